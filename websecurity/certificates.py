"""A web UI's self-signed TLS certificate: made once, renewed with the same key, shown as a
fingerprint.

A station or a practice server on a clinic LAN has no public name a CA could vouch for, so it
signs its own certificate. What makes that safe is the fingerprint: IT reads it from the
program's console (or a provisioning record) and compares it with what the browser shows
before trusting the server. The key is ECDSA P-256 (every browser accepts it, and it is fast
on a Pi) and never leaves its directory (mode 0600).

A certificate lasts at most 825 days (:data:`VALIDITY`, the longest browsers accept for a
server certificate) and is renewed at start-up once fewer than :data:`RENEW_BEFORE` are left,
or when it was made for longer (older releases made ten-year ones). Renewal KEEPS the key:
stations pin the key (its SPKI hash), not the certificate, so they never notice; a browser
that was told to trust the old certificate shows the new fingerprint once. A new key is made
only when there is none or it cannot be read.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.durable import write_durably

#: The whole lifetime, notBefore to notAfter (825 days is the most browsers accept).
VALIDITY = dt.timedelta(days=825)
#: Renewed at start-up when fewer days than this are left.
RENEW_BEFORE = dt.timedelta(days=30)
#: notBefore is set this far back, so a client whose clock is a little slow accepts it.
BACKDATE = dt.timedelta(minutes=5)
#: Always in the certificate, so a browser on the server itself can connect by address.
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsCertificate:
    """A certificate and key on disk, and what people compare them by."""

    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the certificate (DER), colon-separated upper-case hex
    spki_sha256_b64: str  # base64 SHA-256 of the public key (SPKI), as browsers pin it
    not_after: dt.datetime

    def __iter__(self) -> Iterator[object]:
        """Unpacks as ``cert_path, key_path, fingerprint``."""
        return iter((self.cert_path, self.key_path, self.fingerprint))


def format_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as browsers show it: ``AB:CD:...`` (95 characters)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _spki(public_key: ec.EllipticCurvePublicKey | object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _describe(cert: x509.Certificate, cert_path: Path, key_path: Path) -> TlsCertificate:
    return TlsCertificate(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=format_fingerprint(cert.public_bytes(serialization.Encoding.DER)),
        spki_sha256_b64=base64.b64encode(hashlib.sha256(_spki(cert.public_key())).digest())
        .decode(),
        not_after=cert.not_valid_after_utc,
    )


def renewal_due(cert: x509.Certificate, now: dt.datetime | None = None) -> bool:
    """True when ``cert`` should be renewed: close to expiry, or longer-lived than allowed."""
    now = now or dt.datetime.now(dt.UTC)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - RENEW_BEFORE <= now or lifetime > VALIDITY


def _read_key(key_path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _read_cert(cert_path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return None


def load_certificate(cert_path: Path, key_path: Path, *,
                     now: dt.datetime | None = None) -> TlsCertificate | None:
    """The pair on disk if it is readable, matching and not due for renewal; else None."""
    key, cert = _read_key(key_path), _read_cert(cert_path)
    if key is None or cert is None or _spki(key.public_key()) != _spki(cert.public_key()):
        return None
    if renewal_due(cert, now):
        return None
    return _describe(cert, cert_path, key_path)


def self_signed_certificate(key: ec.EllipticCurvePrivateKey, *, common_name: str,
                            dns_names: Sequence[str], organization: str = "",
                            unit: str = "", now: dt.datetime | None = None,
                            validity: dt.timedelta = VALIDITY) -> x509.Certificate:
    """A TLS server certificate for ``key``, signed by itself, naming ``dns_names`` and the
    loopback addresses (names longer than X.509 allows are cut to 64 characters)."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]))
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]))
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(dns_names) if n]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK]
    return _signed(key, x509.Name(attributes), x509.SubjectAlternativeName(names), now=now,
                   validity=validity)


def reissued_certificate(old: x509.Certificate, key: ec.EllipticCurvePrivateKey, *,
                         now: dt.datetime | None = None) -> x509.Certificate:
    """A fresh certificate for the same key with ``old``'s subject and names (renewal)."""
    names = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return _signed(key, old.subject, names, now=now, validity=VALIDITY)


def _signed(key: ec.EllipticCurvePrivateKey, subject: x509.Name,
            names: x509.SubjectAlternativeName, *, now: dt.datetime | None,
            validity: dt.timedelta) -> x509.Certificate:
    """Self-sign ``subject`` with ``names``; ``validity`` spans notBefore to notAfter."""
    start = (now or dt.datetime.now(dt.UTC)) - BACKDATE
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )


def ensure_certificate(cert_path: Path, key_path: Path, *, common_name: str,
                       dns_names: Sequence[str], organization: str = "", unit: str = "",
                       now: dt.datetime | None = None) -> TlsCertificate:
    """The healthy pair at these paths; else a new certificate for the key that is there (a
    certificate that is damaged, does not match, or is due for renewal), or, only when no
    usable key exists, a new key and certificate.

    The key is written before the certificate: a crash between the two leaves a mismatched
    pair, which the next call repairs with that key.
    """
    existing = load_certificate(cert_path, key_path, now=now)
    if existing is not None:
        return existing
    key = _read_key(key_path)
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        write_durably(key_path, key_pem, mode=0o600)
    cert = self_signed_certificate(key, common_name=common_name, dns_names=dns_names,
                                   organization=organization, unit=unit, now=now)
    write_durably(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return _describe(cert, cert_path, key_path)
