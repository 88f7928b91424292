"""Facts for the station-information page: who this station is, whom it trusts, what it runs.

Everything here is public material (ids, pins, fingerprints, versions); IT compares these with
the practice's records when something looks wrong. Nothing secret is read: the identity key's
public half is derived, its private half never shown.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import socket
import sqlite3
from collections.abc import Callable
from importlib import metadata
from typing import Any

from cryptography.hazmat.primitives import serialization

from sync.protocol import station_id_for
from websecurity.certificates import TlsCertificate

from .. import __version__
from ..config import Config
from ..enrolment import load_enrolment
from ..paths import StatePaths

PACKAGES = ("flask", "cheroot", "cryptography", "argon2-cffi", "sqlite-utils", "zxing-cpp",
            "pyzbar", "zeroconf", "gpiozero")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _identity(paths: StatePaths) -> tuple[str, str]:
    """(station id, public key base64) from the identity key, or explanations."""
    try:
        key = serialization.load_pem_private_key(paths.identity_key.read_bytes(), password=None)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    except FileNotFoundError:
        return "not created yet", "-"
    except (OSError, ValueError, TypeError):
        return "identity key unreadable", "-"
    return station_id_for(raw), base64.b64encode(raw).decode()


def station_info(cfg: Config, paths: StatePaths, tls: TlsCertificate | None,
                 url: str | Callable[[], str] | None = None) -> dict[str, Any]:
    if callable(url):
        url = url()
    station_id, public = _identity(paths)
    enrolment = load_enrolment(paths)
    sections = [
        {"title": "Station", "items": [
            ("Name", cfg.station.name),
            ("Station id", station_id),
            ("Signing key (Ed25519, public)", public),
            ("Host name", socket.gethostname()),
            ("Configuration", cfg.source),
        ]},
        {"title": "Web UI", "items": [
            ("Address", url or _default_url(cfg)),
            ("Certificate SHA-256", tls.fingerprint if tls else "no certificate"),
            ("Public key SHA-256 (SPKI)", tls.spki_sha256 if tls else "-"),
            ("Chromium flag", f"--ignore-certificate-errors-spki-list={tls.spki_sha256_b64}"
                              if tls else "-"),
            ("Certificate valid until", f"{tls.not_after:%Y-%m-%d}" if tls else "-"),
            ("Idle / absolute timeout", f"{cfg.web.idle_timeout_minutes} min / "
                                        f"{cfg.web.absolute_timeout_hours} h"),
        ]},
    ]
    if enrolment is None:
        sections.append({"title": "Enrolment", "items": [
            ("State", "not enrolled: captures are refused"),
            ("Receiver pin (from configuration)", cfg.sync.receiver_pin or "not provisioned"),
        ]})
    else:
        sections.append({"title": "Enrolment", "items": [
            ("State", "enrolled"),
            ("Enrolled as", enrolment.station_id),
            ("Enrolled at", enrolment.enrolled_at or "-"),
            ("Receiver", enrolment.receiver_name or "-"),
            ("Receiver TLS pin (SPKI SHA-256)", enrolment.receiver_pin),
            ("Practice key (X25519) SHA-256",
             hashlib.sha256(enrolment.practice_key_bytes).hexdigest()),
            ("Receipt key (Ed25519)", enrolment.receipt_public_key or "-"),
        ]})
    sections.append({"title": "Software", "items": [
        ("capture-station", __version__),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        *((name, _version(name)) for name in PACKAGES),
    ]})
    return {"sections": sections}


def _default_url(cfg: Config) -> str:
    host = cfg.web.listen
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the address, not binding
        host = f"{socket.gethostname()}.local"
    return f"https://{host}:{cfg.web.port}/"


def station_info_provider(cfg: Config, paths: StatePaths, tls: TlsCertificate | None,
                          url: str | Callable[[], str] | None = None
                          ) -> Callable[[], dict[str, Any]]:
    """A callable for ``create_app(station_info=...)``: facts are read fresh on each view.
    ``url`` may be a callable, for a server whose port is known only once it listens."""
    return lambda: station_info(cfg, paths, tls, url)
