"""The provisioning bundle: everything a blank station needs to join a practice, in one file.

The receiver writes it (``capture-receiver token``), IT drops it on the boot partition or shows
it as a QR code, and the station applies it once and deletes it. Both sides import this module,
so the writer and the reader cannot drift apart; it lives in ``sync/`` because the receiver
never imports ``appliance/``.

Two encodings of the same :class:`Bundle`:

* TOML (``capture-station.toml``), human-readable and commented::

      version = 1

      [sync]                                 # the same keys as the station config's [sync]
      receiver_name = "practice"
      receiver_pin = "<64 hex digits: SHA-256 of the receiver's TLS public key>"

      [enrolment]
      token = "<one-time enrolment token>"
      expires_at = "2025-06-01T12:00:00Z"    # optional, for people; the receiver decides
      station_name = "exam-room-3"           # optional; else the config's [station] name

      [admin]
      name = "it-admin"
      password_hash = "$argon2id$v=19$..."   # or: one_time_password = "..."

      [settings.camera]                      # optional overrides of station.toml keys
      jpeg_quality = 95

  ``capture-station enrol --provision`` and ``capture-station provision`` both read it with
  :func:`read_toml` (enrol then uses only the ``[sync]`` and ``[enrolment]`` tables): one
  parser, so a file one accepts the other cannot refuse.
* a compact QR payload: ``CSP1`` followed by JSON with one-letter keys and the pin in
  base64url, small enough for a QR code the station's preview stream can read.

Parsing is strict, like the station config: the version must be known, unknown keys are
errors, and every problem is reported at once. Settings are checked here only for shape
(tables of keys); the station validates their values against its config schema. Messages
never quote the token or the password: the bundle is a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .durable import write_durably
from .errors import SyncError
from .protocol import PIN_RE
from .strictparse import ParseError, loads_json, loads_toml, shown

FORMAT_VERSION = 1
#: Prefix of the QR payload: format marker and version. Anything else in view is ignored.
QR_PREFIX = "CSP1"
#: The file name IT drops on the boot partition.
FILE_NAME = "capture-station.toml"

#: Enrolment tokens are opaque to the station; this keeps them printable and bounded.
TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")
#: Same rule as the station's web accounts.
ADMIN_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
#: PHC string of an Argon2id hash, as argon2-cffi and libargon2 write it.
ARGON2_RE = re.compile(
    r"\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
)
MIN_ONE_TIME_PASSWORD = 12
#: Same bound as the web accounts' passwords.
MAX_ONE_TIME_PASSWORD = 256
MAX_NAME = 64
#: RFC 3339 date-time in UTC, the only form ``expires_at`` accepts.
EXPIRES_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

_SECRET_KEYS = frozenset({"token", "password_hash", "one_time_password"})

_TOP_KEYS = {"version", "sync", "enrolment", "admin", "settings"}
_TABLE_KEYS = {
    "sync": ({"receiver_name", "receiver_pin"}, {"receiver_name", "receiver_pin"}),
    "enrolment": ({"token", "expires_at", "station_name"}, {"token"}),
    "admin": ({"name", "password_hash", "one_time_password"}, {"name"}),
}


class ProvisioningError(SyncError):
    """Provisioning or enrolment did not happen; the message says why and what to do.

    The one error type of joining a practice, so a command catches one thing. Subclasses
    exist where a caller must tell the cause apart: :class:`BundleError` (the bundle itself is
    wrong: fix the file) and ``sync.enrol.EnrolError`` (the receiver or network said no).
    Messages never quote a secret (the token, the admin password).
    """


class BundleError(ProvisioningError, ValueError):
    """The bundle cannot be used; ``problems`` names every reason (never a secret value)."""

    def __init__(self, problems: list[str], source: str = "provisioning bundle") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems))

    def __str__(self) -> str:
        return "\n".join([f"invalid provisioning bundle ({self.source}):"]
                         + [f"  - {p}" for p in self.problems])


@dataclass(frozen=True)
class Admin:
    """The station's first web UI account: exactly one of a hash or a one-time password."""

    name: str
    password_hash: str = ""
    one_time_password: str = field(default="", repr=False)

    def __repr__(self) -> str:
        kind = "password_hash" if self.password_hash else "one_time_password"
        return f"Admin(name={self.name!r}, {kind}=<hidden>)"


@dataclass(frozen=True)
class Bundle:
    """One validated provisioning bundle. ``repr`` hides the token and the admin secret."""

    receiver_name: str
    receiver_pin: str
    token: str = field(repr=False)
    admin: Admin
    station_name: str = ""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    expires_at: str = ""
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        problems = _check_bundle(self)
        if problems:
            raise BundleError(problems)

    def __repr__(self) -> str:
        return (f"Bundle(station_name={self.station_name!r}, receiver_name="
                f"{self.receiver_name!r}, receiver_pin={self.receiver_pin[:8]}..., "
                f"token=<hidden>, admin={self.admin!r}, settings={sorted(self.settings)})")


# -- validation --------------------------------------------------------------------------------

def _check_name(what: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{what} must be a string"
    if not value.strip() or len(value) > MAX_NAME:
        return f"{what} must be 1 to {MAX_NAME} characters"
    if value != value.strip() or any(not ch.isprintable() for ch in value):
        return f"{what} must be printable with no leading or trailing spaces"
    return None


def _check_bundle(b: Bundle) -> list[str]:
    problems: list[str] = []
    if b.version != FORMAT_VERSION:
        problems.append(f"version {shown(b.version)} is not supported (this station reads "
                        f"version {FORMAT_VERSION}); update the station or the receiver")
    checks = [("[sync] receiver_name", b.receiver_name)]
    if b.station_name != "":  # optional: the config's [station] name applies
        checks.append(("[enrolment] station_name", b.station_name))
    for what, value in checks:
        reason = _check_name(what, value)
        if reason:
            problems.append(reason)
    if not (isinstance(b.receiver_pin, str) and PIN_RE.fullmatch(b.receiver_pin)):
        problems.append("[sync] receiver_pin must be 64 lowercase hex digits (SHA-256 of the "
                        "receiver's TLS public key)")
    if not (isinstance(b.token, str) and TOKEN_RE.fullmatch(b.token)):
        problems.append("[enrolment] token is malformed (expected 16-256 printable "
                        "characters, as written by `capture-receiver token`)")
    if b.expires_at != "" and not (isinstance(b.expires_at, str)
                             and EXPIRES_RE.fullmatch(b.expires_at)):
        problems.append("[enrolment] expires_at must be a UTC time like 2025-06-01T12:00:00Z")
    problems += _check_admin(b.admin)
    problems += _check_settings_shape(b.settings)
    return problems


def _check_admin(admin: Any) -> list[str]:
    if not isinstance(admin, Admin):
        return ["[admin] is required: the station has no default account"]
    problems = []
    if not (isinstance(admin.name, str) and ADMIN_NAME_RE.fullmatch(admin.name)):
        problems.append("[admin] name must be 1-32 characters: lowercase letters, digits, "
                        "'.', '_' or '-', starting with a letter or digit")
    has_hash, has_otp = bool(admin.password_hash), bool(admin.one_time_password)
    if has_hash == has_otp:
        problems.append("[admin] needs exactly one of password_hash or one_time_password")
    elif has_hash and not (isinstance(admin.password_hash, str)
                           and ARGON2_RE.fullmatch(admin.password_hash)):
        problems.append("[admin] password_hash is not an Argon2id PHC string "
                        "($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
    elif has_otp and not (isinstance(admin.one_time_password, str)
                          and MIN_ONE_TIME_PASSWORD <= len(admin.one_time_password)
                          <= MAX_ONE_TIME_PASSWORD
                          and admin.one_time_password.isprintable()
                          and admin.one_time_password == admin.one_time_password.strip()):
        problems.append(f"[admin] one_time_password must be {MIN_ONE_TIME_PASSWORD} to "
                        f"{MAX_ONE_TIME_PASSWORD} printable characters with no leading or "
                        "trailing spaces")
    return problems


_SCALAR = (str, int, float, bool)


#: Deepest nesting a setting's value may have (the station's config has lists of tables).
_MAX_SETTING_DEPTH = 4


def _check_value_shape(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_SETTING_DEPTH:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, _SCALAR):
        return True
    if isinstance(value, list):
        return all(_check_value_shape(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _check_value_shape(v, depth + 1)
                   for k, v in value.items())
    return False


def _check_settings_shape(settings: Any) -> list[str]:
    if not isinstance(settings, dict):
        return ["[settings] must be a table of config sections"]
    problems = []
    for section, values in settings.items():
        if not isinstance(values, dict):
            problems.append(f"[settings.{section}] must be a table of keys")
        elif not all(_check_value_shape(v) for v in values.values()):
            problems.append(f"[settings.{section}] holds a value that is not a finite "
                            "number, string, boolean, list or table (nested at most "
                            f"{_MAX_SETTING_DEPTH} deep)")
    return problems


# -- TOML --------------------------------------------------------------------------------------

def _table(data: Mapping[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    allowed, required = _TABLE_KEYS[name]
    value = data.get(name)
    if value is None:
        problems.append(f"[{name}] is missing")
        return {}
    if not isinstance(value, dict):
        problems.append(f"{name} must be a table ([{name}])")
        return {}
    for key in sorted(set(value) - allowed):
        problems.append(f"[{name}] {key}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(value)):
        problems.append(f"[{name}] {key} is missing")
    return value


def from_mapping(data: Mapping[str, Any], source: str = "provisioning bundle") -> Bundle:
    """Validate a parsed bundle (TOML tables); raise :class:`BundleError` listing every problem."""
    problems: list[str] = []
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{key}: unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    version = data.get("version")
    if version is None:
        problems.append("version is missing (this station reads version "
                        f"{FORMAT_VERSION})")
    elif isinstance(version, bool) or not isinstance(version, int):
        problems.append("version must be an integer")
    elif version != FORMAT_VERSION:
        problems.append(f"version {shown(version)} is not supported (this station reads version "
                        f"{FORMAT_VERSION}); update the station or the receiver")
    tables = {name: _table(data, name, problems) for name in _TABLE_KEYS}
    settings = data.get("settings", {})
    if problems:
        raise BundleError(problems, source)
    admin_t = tables["admin"]
    try:
        return Bundle(
            station_name=tables["enrolment"].get("station_name", ""),
            receiver_name=tables["sync"]["receiver_name"],
            receiver_pin=tables["sync"]["receiver_pin"],
            token=tables["enrolment"]["token"],
            expires_at=tables["enrolment"].get("expires_at", ""),
            admin=Admin(name=admin_t["name"],
                        password_hash=admin_t.get("password_hash", ""),
                        one_time_password=admin_t.get("one_time_password", "")),
            settings=settings,
        )
    except BundleError as exc:
        raise BundleError(exc.problems, source) from None


def parse_toml(text: str, source: str = "provisioning bundle") -> Bundle:
    """Parse and validate the TOML form."""
    try:
        data = loads_toml(text)
    except ParseError as exc:  # its message quotes no content, only line and column
        raise BundleError([str(exc)], source) from None
    return from_mapping(data, source)


def toml_value(value: Any) -> str:
    """One TOML value (strings via JSON escaping, which TOML basic strings share)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else _bad(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return _bad(value)


def _bad(value: Any) -> str:
    raise TypeError(f"cannot write a {type(value).__name__} as TOML")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_tables(tables: Mapping[str, Mapping[str, Any]], prefix: str = "") -> list[str]:
    """``[prefix.section]`` blocks of ``key = value`` lines (nested tables written inline)."""
    lines: list[str] = []
    for section, values in tables.items():
        lines.append(f"\n[{prefix}{toml_key(section)}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return lines


TOML_HEADER = """\
# capture-station provisioning bundle (written by `capture-receiver token`).
#
# Copy this file to the station's boot partition as capture-station.toml
# (/boot/firmware/ on current Raspberry Pi OS) and power the station on. It is applied once
# and then deleted. It holds a one-time enrolment secret: do not e-mail it, do not keep
# copies, and destroy it if the station is not set up before the token expires.
"""


def to_toml(bundle: Bundle) -> str:
    """The TOML form; :func:`parse_toml` of the result equals ``bundle``."""
    lines = [TOML_HEADER, f"version = {bundle.version}"]
    lines += toml_tables({
        "sync": {"receiver_name": bundle.receiver_name, "receiver_pin": bundle.receiver_pin},
        "enrolment": {"token": bundle.token,
                      **({"expires_at": bundle.expires_at} if bundle.expires_at else {}),
                      **({"station_name": bundle.station_name} if bundle.station_name else {})},
        "admin": {"name": bundle.admin.name,
                  **({"password_hash": bundle.admin.password_hash}
                     if bundle.admin.password_hash
                     else {"one_time_password": bundle.admin.one_time_password})},
    })
    if bundle.settings:
        lines += toml_tables(bundle.settings, prefix="settings.")
    return "\n".join(lines) + "\n"


# -- QR payload --------------------------------------------------------------------------------

_QR_KEYS = {"s": "station_name", "r": "receiver_name", "p": "receiver_pin", "t": "token",
            "e": "expires_at",
            "a": "admin", "h": "password_hash", "o": "one_time_password", "c": "settings"}
_QR_REQUIRED = {"r", "p", "t", "a"}


def to_qr_payload(bundle: Bundle) -> str:
    """The compact text for a QR code: ``CSP1`` + JSON with one-letter keys."""
    data: dict[str, Any] = {
        "r": bundle.receiver_name,
        "p": base64.urlsafe_b64encode(bytes.fromhex(bundle.receiver_pin)).decode().rstrip("="),
        "t": bundle.token,
        "a": bundle.admin.name,
    }
    if bundle.admin.password_hash:
        data["h"] = bundle.admin.password_hash
    else:
        data["o"] = bundle.admin.one_time_password
    if bundle.station_name:
        data["s"] = bundle.station_name
    if bundle.expires_at:
        data["e"] = bundle.expires_at
    if bundle.settings:
        data["c"] = bundle.settings
    return QR_PREFIX + json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def is_qr_payload(text: str) -> bool:
    """True when ``text`` claims to be a provisioning QR (other codes in view are ignored)."""
    return text.startswith(QR_PREFIX + "{")


def parse_qr_payload(text: str, source: str = "provisioning QR code") -> Bundle:
    """Parse and validate a QR payload; raise :class:`BundleError`."""
    if not text.startswith(QR_PREFIX):
        raise BundleError([f"not a provisioning QR code (expected the {QR_PREFIX} prefix; "
                           "a newer receiver may need a newer station)"], source)
    try:
        data = loads_json(text[len(QR_PREFIX):], floats=True)
    except ParseError as exc:
        raise BundleError([f"the QR payload is not strict JSON ({exc})"], source) from None
    if not isinstance(data, dict):
        raise BundleError(["the QR payload is not a JSON object"], source)
    problems = [f"{k}: unknown key" for k in sorted(set(data) - set(_QR_KEYS))]
    problems += [f"{_QR_KEYS[k]} is missing" for k in sorted(_QR_REQUIRED - set(data))]
    if problems:
        raise BundleError(problems, source)
    pin = data["p"]
    try:
        raw_pin = base64.urlsafe_b64decode(pin + "=" * (-len(pin) % 4)) if isinstance(
            pin, str) else b""
    except (binascii.Error, ValueError):
        raw_pin = b""
    mapping = {
        "version": FORMAT_VERSION,
        "sync": {"receiver_name": data["r"],
                 "receiver_pin": raw_pin.hex() if len(raw_pin) == 32 else ""},
        "enrolment": {"token": data["t"],
                      **({"expires_at": data["e"]} if "e" in data else {}),
                      **({"station_name": data["s"]} if "s" in data else {})},
        "admin": {"name": data["a"],
                  **({"password_hash": data["h"]} if "h" in data else {}),
                  **({"one_time_password": data["o"]} if "o" in data else {})},
    }
    if "c" in data:
        mapping["settings"] = data["c"]
    return from_mapping(mapping, source)


def is_secret_key(key: str) -> bool:
    """Keys whose values must never be logged or shown."""
    return key in _SECRET_KEYS


def qr_png(bundle: Bundle, *, module_px: int = 8) -> bytes:
    """The bundle's QR payload as a PNG (error correction M, with its quiet zone).

    Drawn by zxing-cpp's writer, the same library the station reads it with. ``module_px`` is
    the size of one module; 8 prints about 6 cm wide, easy for the camera at arm's length.
    """
    import io

    import numpy as np
    import zxingcpp
    from PIL import Image

    barcode = zxingcpp.create_barcode(to_qr_payload(bundle), zxingcpp.BarcodeFormat.QRCode,
                                      ec_level="M")
    pixels = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=max(1, module_px)))
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format="PNG")
    return out.getvalue()


def read_toml(path: Path) -> Bundle:
    """Read and validate the bundle file at ``path``.

    Raises :class:`BundleError` for a file that is there but wrong and
    :class:`ProvisioningError` for one that is missing or unreadable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProvisioningError(f"no provisioning file at {path}; make one on the practice "
                                "server with `capture-receiver token --out FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisioningError(f"cannot read {path}: {exc}") from None
    return parse_toml(text, source=str(path))


def write_toml(path: str | os.PathLike[str], bundle: Bundle) -> None:
    """Write the TOML form owner-only (0600), replacing ``path`` durably (:mod:`sync.durable`)."""
    write_durably(Path(path), to_toml(bundle).encode("utf-8"), 0o600)
