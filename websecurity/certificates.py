"""A web UI's self-signed TLS certificate: made once, kept while healthy, shown as a fingerprint.

A station or a practice server on a clinic LAN has no public name a CA could vouch for, so it
signs its own certificate. What makes that safe is the fingerprint: IT reads it from the
program's console (or a provisioning record) and compares it with what the browser shows
before trusting the server. The key is ECDSA P-256 (every browser accepts it, and it is fast
on a Pi) and never leaves its directory (mode 0600). A missing, damaged, mismatched or nearly
expired pair is replaced; a healthy one is kept across restarts so the fingerprint stays
stable.
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
from sync.fingerprints import sha256_fingerprint

#: Long enough that nobody has to re-check a fingerprint every year; replaced 30 days early.
VALIDITY = dt.timedelta(days=3650)
RENEW_BEFORE = dt.timedelta(days=30)
#: Always in the certificate, so a browser on the server itself can connect by address.
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsCertificate:
    """A certificate and key on disk, and what people compare them by."""

    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the certificate (DER), in the one form (sync.fingerprints)
    spki_sha256: str  # SHA-256 of the public key (SPKI), in the same form
    spki_sha256_b64: str  # the same digest in base64: only for Chromium's SPKI-list flag
    not_after: dt.datetime

    def __iter__(self) -> Iterator[object]:
        """Unpacks as ``cert_path, key_path, fingerprint``."""
        return iter((self.cert_path, self.key_path, self.fingerprint))


def format_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate in the one form of every fingerprint and pin (64
    lower-case hex digits, :func:`sync.fingerprints.sha256_fingerprint`); a browser shows the
    same digits in upper-case pairs."""
    return sha256_fingerprint(der)


def _spki(public_key: ec.EllipticCurvePublicKey | object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _describe(cert: x509.Certificate, cert_path: Path, key_path: Path) -> TlsCertificate:
    return TlsCertificate(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=format_fingerprint(cert.public_bytes(serialization.Encoding.DER)),
        spki_sha256=sha256_fingerprint(_spki(cert.public_key())),
        spki_sha256_b64=base64.b64encode(hashlib.sha256(_spki(cert.public_key())).digest())
        .decode(),
        not_after=cert.not_valid_after_utc,
    )


def load_certificate(cert_path: Path, key_path: Path, *,
                     now: dt.datetime | None = None) -> TlsCertificate | None:
    """The pair on disk if it is readable, matching and not about to expire; else None."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if _spki(key.public_key()) != _spki(cert.public_key()):
        return None
    if cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return None
    return _describe(cert, cert_path, key_path)


def self_signed_certificate(key: ec.EllipticCurvePrivateKey, *, common_name: str,
                            dns_names: Sequence[str], organization: str = "",
                            unit: str = "", now: dt.datetime | None = None,
                            validity: dt.timedelta = VALIDITY) -> x509.Certificate:
    """A TLS server certificate for ``key``, signed by itself, naming ``dns_names`` and the
    loopback addresses (names longer than X.509 allows are cut to 64 characters)."""
    now = now or dt.datetime.now(dt.UTC)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]))
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]))
    subject = x509.Name(attributes)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(dns_names) if n]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
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
    """The healthy pair at these paths, or a new key and self-signed certificate written there.

    The key is written first: a crash between the two writes leaves a mismatched pair, which
    the next call replaces.
    """
    now = now or dt.datetime.now(dt.UTC)
    existing = load_certificate(cert_path, key_path, now=now)
    if existing is not None:
        return existing
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_certificate(key, common_name=common_name, dns_names=dns_names,
                                   organization=organization, unit=unit, now=now)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write_durably(key_path, key_pem, mode=0o600)
    write_durably(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return _describe(cert, cert_path, key_path)
