"""The receiver's long-lived keys, created once by ``capture-receiver init`` and loaded at start.

Three jobs, three keys, so losing or rotating one never weakens another:

* ``practice.key``: X25519; stations seal every capture to its public half (HPKE), so only this
  receiver can open them.
* ``receipt.key``: Ed25519; signs delivery receipts, which are what lets a station shred its copy.
* ``tls.key`` + ``tls.crt``: EC P-256 and a self-signed certificate for the HTTPS endpoint.
  Stations pin the SHA-256 of its SubjectPublicKeyInfo (:func:`spki_pin`), not a CA chain, so the
  certificate can be re-issued with the same key without re-provisioning any station.

All files live in ``<data_dir>/keys/`` (mode 0700), each mode 0600. The set is written into a
temporary sibling directory and renamed into place, so a crash during ``init`` leaves either no
keys or all of them. The receiver's name is the certificate's common name (one source of truth).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

from sync.durable import fsync_dir, write_durably
from websecurity.certificates import reissued_certificate, renewal_due, self_signed_certificate

from .errors import PracticeError

KEYS_DIRNAME = "keys"
PRACTICE_KEY = "practice.key"
RECEIPT_KEY = "receipt.key"
TLS_KEY = "tls.key"
TLS_CERT = "tls.crt"
KEY_FILES = (PRACTICE_KEY, RECEIPT_KEY, TLS_KEY, TLS_CERT)

_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class ReceiverKeysError(PracticeError, RuntimeError):
    """The keys cannot be created or loaded; the message says which file and how to fix it."""


def spki_pin(cert_or_public_key: x509.Certificate | ec.EllipticCurvePublicKey | object) -> str:
    """Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER of a certificate or public key.

    This is what stations are provisioned with and what mDNS advertises in TXT ``pin``.
    """
    public_key = (
        cert_or_public_key.public_key()
        if isinstance(cert_or_public_key, x509.Certificate)
        else cert_or_public_key
    )
    try:
        der = public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except AttributeError:
        raise TypeError("spki_pin needs an x509.Certificate or a public key") from None
    return hashlib.sha256(der).hexdigest()


def validate_name(name: str) -> str:
    """A receiver name is one DNS label (it goes into the certificate SAN and mDNS)."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ReceiverKeysError(
            f"receiver name {name!r} is not allowed: use 1-63 letters, digits or hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class ReceiverKeys:
    """The loaded key set. Private keys are cryptography objects; never log this object."""

    name: str
    keys_dir: Path
    practice_private: x25519.X25519PrivateKey
    receipt_private: ed25519.Ed25519PrivateKey
    tls_certificate: x509.Certificate

    def __repr__(self) -> str:  # keep private keys out of tracebacks and logs
        return f"ReceiverKeys(name={self.name!r}, keys_dir={str(self.keys_dir)!r})"

    @property
    def practice_public(self) -> x25519.X25519PublicKey:
        return self.practice_private.public_key()

    @property
    def practice_public_raw(self) -> bytes:
        return self.practice_public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def receipt_public(self) -> ed25519.Ed25519PublicKey:
        return self.receipt_private.public_key()

    @property
    def receipt_public_raw(self) -> bytes:
        return self.receipt_public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def tls_cert_path(self) -> Path:
        return self.keys_dir / TLS_CERT

    @property
    def tls_key_path(self) -> Path:
        return self.keys_dir / TLS_KEY

    @property
    def pin(self) -> str:
        return spki_pin(self.tls_certificate)

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def create(cls, data_dir: Path, name: str) -> ReceiverKeys:
        """Generate a fresh key set under ``data_dir/keys``; refuse if any key already exists."""
        validate_name(name)
        data_dir = Path(data_dir)
        keys_dir = data_dir / KEYS_DIRNAME
        existing = [f for f in KEY_FILES if (keys_dir / f).exists()]
        if existing:
            raise ReceiverKeysError(
                f"{keys_dir} already holds {', '.join(existing)}; refusing to overwrite "
                "receiver keys (stations are sealed to them). Use another --data-dir or move "
                "the old keys away deliberately."
            )
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        practice = x25519.X25519PrivateKey.generate()
        receipt = ed25519.Ed25519PrivateKey.generate()
        tls_key = ec.generate_private_key(ec.SECP256R1())
        cert = self_signed_certificate(tls_key, common_name=name,
                                       dns_names=[name, "localhost"])
        pkcs8 = {
            PRACTICE_KEY: practice,
            RECEIPT_KEY: receipt,
            TLS_KEY: tls_key,
        }
        staging = data_dir / f".{KEYS_DIRNAME}.{secrets.token_hex(4)}.partial"
        staging.mkdir(mode=0o700)
        try:
            for filename, key in pkcs8.items():
                write_durably(staging / filename, _pem_private(key), replace=False,
                              sync_dir=False)
            write_durably(staging / TLS_CERT, cert.public_bytes(serialization.Encoding.PEM),
                          replace=False, sync_dir=False)
            fsync_dir(staging)
            if keys_dir.exists():
                # An empty (or unrelated-files-only) keys dir: move our files in one by one.
                # ``existing`` above proved none of ours is there.
                keys_dir.chmod(0o700)
                for filename in KEY_FILES:
                    os.link(staging / filename, keys_dir / filename)
                fsync_dir(keys_dir)
                shutil.rmtree(staging)
            else:
                os.rename(staging, keys_dir)
            fsync_dir(data_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls.load(data_dir)

    # -- renewal ------------------------------------------------------------------------------

    def renewed(self, now: dt.datetime | None = None) -> ReceiverKeys:
        """This key set, with ``tls.crt`` re-issued first if it is due (close to expiry, or
        made for longer than browsers accept; see :mod:`websecurity.certificates`).

        The TLS key is kept: stations pin it, so a renewal needs no re-provisioning. Called by
        ``serve`` at start-up; the certificate is replaced durably (a crash leaves the old or
        the new one, both for the same key).
        """
        if not renewal_due(self.tls_certificate, now):
            return self
        tls_key = _load_private(self.tls_key_path, ec.EllipticCurvePrivateKey)
        cert = reissued_certificate(self.tls_certificate, tls_key, now=now)  # type: ignore[arg-type]
        mode = stat.S_IMODE(self.tls_cert_path.stat().st_mode)
        write_durably(self.tls_cert_path, cert.public_bytes(serialization.Encoding.PEM), mode)
        return ReceiverKeys.load(self.keys_dir.parent)

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, data_dir: Path) -> ReceiverKeys:
        """Load the key set; a missing, damaged or group/world-readable file is an error."""
        keys_dir = Path(data_dir) / KEYS_DIRNAME
        missing = [f for f in KEY_FILES if not (keys_dir / f).is_file()]
        if len(missing) == len(KEY_FILES):
            raise ReceiverKeysError(
                f"no receiver keys in {keys_dir}; run `capture-receiver init --data-dir "
                f"{data_dir}` first"
            )
        if missing:
            raise ReceiverKeysError(f"receiver keys in {keys_dir} are incomplete: missing "
                                    f"{', '.join(missing)}")
        for filename in (PRACTICE_KEY, RECEIPT_KEY, TLS_KEY):
            mode = stat.S_IMODE((keys_dir / filename).stat().st_mode)
            if mode & 0o077:
                raise ReceiverKeysError(
                    f"{keys_dir / filename} is readable by others (mode {mode:o}); "
                    f"run `chmod 600 {keys_dir / filename}`"
                )
        practice = _load_private(keys_dir / PRACTICE_KEY, x25519.X25519PrivateKey)
        receipt = _load_private(keys_dir / RECEIPT_KEY, ed25519.Ed25519PrivateKey)
        tls_key = _load_private(keys_dir / TLS_KEY, ec.EllipticCurvePrivateKey)
        try:
            cert = x509.load_pem_x509_certificate((keys_dir / TLS_CERT).read_bytes())
        except ValueError:
            raise ReceiverKeysError(f"{keys_dir / TLS_CERT} is not a PEM certificate") from None
        if spki_pin(cert) != spki_pin(tls_key.public_key()):
            raise ReceiverKeysError(f"{keys_dir / TLS_CERT} does not match {TLS_KEY}")
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(names[0].value) if names else ""
        return cls(
            name=name,
            keys_dir=keys_dir,
            practice_private=practice,
            receipt_private=receipt,
            tls_certificate=cert,
        )


def _pem_private(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private(path: Path, kind: type) -> object:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ReceiverKeysError(f"{path} is not an unencrypted PKCS8 PEM private key") from None
    if not isinstance(key, kind):
        raise ReceiverKeysError(f"{path} holds the wrong kind of key (want {kind.__name__})")
    return key
