"""The review UI's per-station TLS certificate: made at first start, shown as a fingerprint.

A station has no public name a CA could vouch for, so it signs its own certificate. What makes
that safe is the fingerprint: IT reads it from ``capture-station doctor`` on the console (or a
provisioning record) and compares it with what the browser shows before trusting the station.
The key is ECDSA P-256 (every browser accepts it, and it is fast on a Pi) and never leaves the
state directory (mode 0600). A missing, damaged, mismatched or nearly expired pair is replaced;
a healthy one is kept across restarts so the fingerprint stays stable.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..fsutil import atomic_write
from ..paths import StatePaths

if TYPE_CHECKING:
    from ..config import Config
    from ..doctor import Check

CERT_NAME = "web-cert.pem"
KEY_NAME = "web-key.pem"
#: Long enough that nobody has to re-check a fingerprint every year; replaced 30 days early.
VALIDITY = dt.timedelta(days=3650)
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class WebTls:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the certificate (DER), colon-separated upper-case hex
    spki_sha256_b64: str  # base64 SHA-256 of the public key (SPKI), as browsers pin it
    not_after: dt.datetime

    def __iter__(self):
        """Unpacks as ``cert_path, key_path, fingerprint``."""
        return iter((self.cert_path, self.key_path, self.fingerprint))


def format_fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _describe(cert: x509.Certificate, cert_path: Path, key_path: Path) -> WebTls:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return WebTls(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=format_fingerprint(cert.public_bytes(serialization.Encoding.DER)),
        spki_sha256_b64=base64.b64encode(hashlib.sha256(spki).digest()).decode(),
        not_after=cert.not_valid_after_utc,
    )


def _load_valid(cert_path: Path, key_path: Path, now: dt.datetime) -> WebTls | None:
    """The existing pair if it is readable, matching and not about to expire; else None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    same_key = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not same_key or cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return None
    return _describe(cert, cert_path, key_path)


def _names(hostname: str) -> list[x509.GeneralName]:
    dns = []
    for name in (hostname, f"{hostname}.local", "localhost"):
        if name and name not in dns:
            dns.append(name)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    return names


def _generate(cert_path: Path, key_path: Path, station_name: str, hostname: str,
              now: dt.datetime) -> WebTls:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, (hostname or "capture-station")[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "capture-station"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, (station_name or "station")[:64]),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_names(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # Key first: a crash between the two writes leaves a mismatched pair, which is replaced.
    atomic_write(key_path, key_pem, mode=0o600)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return _describe(cert, cert_path, key_path)


def ensure_web_tls(paths: StatePaths, *, station_name: str = "", hostname: str | None = None,
                   now: dt.datetime | None = None) -> WebTls:
    """The certificate and key for the UI, generated if missing or unusable.

    Unpacks as ``(cert_path, key_path, fingerprint)``; the returned object also carries the
    SPKI pin and expiry.
    """
    paths.ensure()
    now = now or dt.datetime.now(dt.UTC)
    cert_path, key_path = paths.tls / CERT_NAME, paths.tls / KEY_NAME
    existing = _load_valid(cert_path, key_path, now)
    if existing is not None:
        return existing
    host = socket.gethostname() if hostname is None else hostname
    return _generate(cert_path, key_path, station_name, host, now)


def read_web_tls(paths: StatePaths, *, now: dt.datetime | None = None) -> WebTls | None:
    """The current certificate without creating one (for ``doctor``); None if absent/unusable."""
    now = now or dt.datetime.now(dt.UTC)
    return _load_valid(paths.tls / CERT_NAME, paths.tls / KEY_NAME, now)


def check_web_tls(cfg: Config) -> Check:
    """``capture-station doctor``: the UI certificate's fingerprint, or why there is none."""
    from ..doctor import OK, WARN, Check

    if not cfg.web.enabled:
        return Check("web_tls", OK, "web UI disabled ([web] enabled = false)")
    current = read_web_tls(StatePaths(cfg.state_dir))
    if current is None:
        return Check("web_tls", WARN, "no usable UI certificate yet; the station creates one "
                     "at its next start", "start the station (capture-station run)")
    return Check("web_tls", OK, f"SHA-256 {current.fingerprint} (valid until "
                 f"{current.not_after:%Y-%m-%d})")
