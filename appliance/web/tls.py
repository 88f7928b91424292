"""The review UI's per-station certificate, in the state directory (see websecurity.certificates).

The station names its certificate after its host (``<host>``, ``<host>.local``, ``localhost``)
and its configured station name, and keeps the pair in ``<state>/tls/`` so the fingerprint IT
compared stays the same across restarts.
"""

from __future__ import annotations

import datetime as dt
import socket

from websecurity.certificates import TlsCertificate, ensure_certificate, load_certificate

from ..paths import StatePaths

CERT_NAME = "web-cert.pem"
KEY_NAME = "web-key.pem"


def ensure_web_tls(paths: StatePaths, *, station_name: str = "", hostname: str | None = None,
                   now: dt.datetime | None = None) -> TlsCertificate:
    """The certificate and key for the UI, generated if missing or unusable.

    Unpacks as ``(cert_path, key_path, fingerprint)``; the returned object also carries the
    SPKI pin and expiry.
    """
    paths.ensure()
    host = socket.gethostname() if hostname is None else hostname
    return ensure_certificate(
        paths.tls / CERT_NAME, paths.tls / KEY_NAME,
        common_name=host or "capture-station", dns_names=(host, f"{host}.local", "localhost"),
        organization="capture-station", unit=station_name or "station", now=now)


def read_web_tls(paths: StatePaths, *, now: dt.datetime | None = None) -> TlsCertificate | None:
    """The current certificate without creating one (for ``doctor``); None if absent/unusable."""
    return load_certificate(paths.tls / CERT_NAME, paths.tls / KEY_NAME, now=now)
