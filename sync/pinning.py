"""TLS to the receiver, trusted by one thing only: the SHA-256 of its public key (SPKI).

The receiver's certificate is self-signed; no CA is involved and none is wanted. The station
got the pin in its provisioning file. After the handshake, and before a single byte of HTTP
is written, the presented key is hashed and compared; on a mismatch the socket is closed and
:class:`PinMismatch` raised, so a rogue server on the LAN learns nothing but a ClientHello.
"""

from __future__ import annotations

import hmac
import http.client
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import SyncError
from .fingerprints import sha256_fingerprint


class PinMismatch(SyncError, ConnectionError):
    """The server's TLS key is not the provisioned one. ``seen`` is its pin (for the audit)."""

    def __init__(self, host: str, port: int, seen: str) -> None:
        super().__init__(f"TLS key of {host}:{port} does not match the provisioned pin")
        self.host = host
        self.port = port
        self.seen = seen


def pin_of_certificate(der: bytes) -> str:
    """SHA-256 of the certificate's SubjectPublicKeyInfo (DER), in the one form of every
    fingerprint (:mod:`sync.fingerprints`: 64 lower-case hex digits)."""
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return sha256_fingerprint(spki)


def client_context() -> ssl.SSLContext:
    """TLS 1.2+ with CA checks off: the pin replaces them (see module docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An ``http.client`` HTTPS connection that refuses to talk to any key but ``pin``."""

    def __init__(self, host: str, port: int, pin: str, timeout: float = 30.0) -> None:
        super().__init__(host, port, timeout=timeout, context=client_context())
        self._pin = pin
        self.peer_pin: str | None = None

    def connect(self) -> None:
        super().connect()  # TCP connect + TLS handshake; no application data yet
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        der = sock.getpeercert(binary_form=True)
        seen = pin_of_certificate(der) if der else ""
        if not hmac.compare_digest(seen.encode(), self._pin.encode()):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self.sock = None
            raise PinMismatch(self.host, self.port or 0, seen)
        self.peer_pin = seen
