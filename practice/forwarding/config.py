"""``DIR/forwarding.toml``: where filed captures go (docs/forwarding.md, "Configuration").

Strict on purpose: an unknown key, a NaN or infinite number, a URL that is not plain
``http(s)://host[:port]/path`` or a credential in the URL is an error that names the key, so a
typo never silently disables forwarding. Basic auth over plain ``http`` is refused except to
loopback (a password must not cross a network in clear).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sync.strictparse import ParseError, loads_toml

from ..errors import PracticeError

CONFIG_NAME = "forwarding.toml"
KINDS = ("dicomweb", "fhir")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PIN_RE = re.compile(r"[0-9a-f]{64}")
_TOP_KEYS = {"institution", "manufacturer", "retry", "destination"}
_RETRY_KEYS = {"initial_s", "max_s"}
_DEST_KEYS = {"name", "kind", "url", "failover_urls", "username", "password_file",
              "client_cert", "client_key", "ca_file", "pinned_sha256", "timeout_s", "fhir_content"}


class ForwardingConfigError(PracticeError, ValueError):
    """``forwarding.toml`` is not valid; the message names the key."""


@dataclass(frozen=True)
class Destination:
    """One PACS (DICOMweb) or EHR (FHIR) the practice server forwards to."""

    name: str
    kind: str
    url: str
    #: Other servers of the same archive (Orthancs sharing one index), tried in turn when
    #: ``url`` does not answer.
    failover_urls: tuple[str, ...] = ()
    username: str | None = None
    password_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    pinned_sha256: str | None = None
    timeout_s: float = 30.0
    fhir_content: str = "inline"

    def password(self) -> str:
        """The basic-auth password (read when needed, so a rotated file is picked up)."""
        if self.password_file is None:
            return ""
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ForwardingConfigError(
                f"destination {self.name}: cannot read password_file: {exc.strerror}") from None


@dataclass(frozen=True)
class ForwardingConfig:
    institution: str = ""
    manufacturer: str = "capture-station project"
    retry_initial_s: float = 2.0
    retry_max_s: float = 300.0
    destinations: tuple[Destination, ...] = ()

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations if d.name == name), None)


def _number(where: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ForwardingConfigError(f"{where} must be a number")
    if isinstance(value, float) and not math.isfinite(value):  # an int is exact, however long
        raise ForwardingConfigError(f"{where} must be a finite number, not {value}")
    if not low <= value <= high:
        raise ForwardingConfigError(f"{where} must be between {low:g} and {high:g}")
    return float(value)


def _string(where: str, value: object, limit: int = 512) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ForwardingConfigError(f"{where} must be a non-empty string of at most {limit} "
                                    "characters")
    if not value.isprintable():  # no NUL, escape or line break reaches a header or DICOM
        raise ForwardingConfigError(f"{where} must not hold control characters")
    return value


def _unknown(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ForwardingConfigError(f"{where}: unknown key {extra[0]!r} (allowed: "
                                    f"{', '.join(sorted(allowed))})")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(where: str, url: object) -> str:
    """A base URL: http or https, a host, no credentials, query or fragment; no trailing /."""
    text = _string(where, url, 2048)
    try:
        parts = urlsplit(text)
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        raise ForwardingConfigError(f"{where} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ForwardingConfigError(f"{where} must start with https:// or http://")
    if not parts.hostname:
        raise ForwardingConfigError(f"{where} has no host")
    if parts.username is not None or parts.password is not None:
        raise ForwardingConfigError(f"{where} must not hold credentials (use username and "
                                    "password_file)")
    if parts.query or parts.fragment or any(c.isspace() for c in text):
        raise ForwardingConfigError(f"{where} must not have a query, fragment or spaces")
    return text.rstrip("/")


def _path(base: Path, where: str, value: object) -> Path:
    path = Path(_string(where, value))
    return path if path.is_absolute() else base / path


def _destination(base: Path, index: int, raw: object, seen: set[str]) -> Destination:
    where = f"destination[{index}]"
    if not isinstance(raw, dict):
        raise ForwardingConfigError(f"{where} must be a table ([[destination]])")
    _unknown(where, raw, _DEST_KEYS)
    for key in ("name", "kind", "url"):
        if key not in raw:
            raise ForwardingConfigError(f"{where} needs {key!r}")
    name = _string(f"{where}.name", raw["name"], 32)
    if not _NAME_RE.fullmatch(name):
        raise ForwardingConfigError(f"{where}.name must be lower-case letters, digits, - or _")
    if name in seen:
        raise ForwardingConfigError(f"{where}.name {name!r} is used twice")
    seen.add(name)
    where = f"destination {name}"
    kind = raw["kind"]
    if kind not in KINDS:
        raise ForwardingConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
    url = check_url(f"{where}: url", raw["url"])
    opts: dict[str, Any] = {}
    if "failover_urls" in raw:
        others = raw["failover_urls"]
        if not isinstance(others, list) or len(others) > 16:
            raise ForwardingConfigError(f"{where}: failover_urls must be a list of URLs")
        opts["failover_urls"] = tuple(check_url(f"{where}: failover_urls[{i}]", u)
                                      for i, u in enumerate(others))
        if any(u.split(":", 1)[0] != url.split(":", 1)[0] for u in opts["failover_urls"]):
            raise ForwardingConfigError(f"{where}: failover_urls must use url's scheme")
    for key in ("password_file", "client_cert", "client_key", "ca_file"):
        if key in raw:
            opts[key] = _path(base, f"{where}: {key}", raw[key])
    if "username" in raw:
        opts["username"] = _string(f"{where}: username", raw["username"], 256)
    if ("username" in opts) != ("password_file" in opts):
        raise ForwardingConfigError(f"{where}: username and password_file go together")
    if ("client_cert" in opts) != ("client_key" in opts):
        raise ForwardingConfigError(f"{where}: client_cert and client_key go together")
    if "pinned_sha256" in raw:
        pin = _string(f"{where}: pinned_sha256", raw["pinned_sha256"], 95)
        pin = pin.replace(":", "").lower()
        if not _PIN_RE.fullmatch(pin):
            raise ForwardingConfigError(f"{where}: pinned_sha256 must be 64 hex digits")
        opts["pinned_sha256"] = pin
    https = url.startswith("https://")
    if not https and ({"ca_file", "pinned_sha256", "client_cert"} & set(opts)):
        raise ForwardingConfigError(f"{where}: TLS settings need an https:// url")
    if "ca_file" in opts and "pinned_sha256" in opts:
        raise ForwardingConfigError(f"{where}: choose ca_file or pinned_sha256, not both")
    hosts = [urlsplit(u).hostname or "" for u in (url, *opts.get("failover_urls", ()))]
    if "username" in opts and not https and not all(_is_loopback(h) for h in hosts):
        raise ForwardingConfigError(f"{where}: basic auth needs https:// (the password would "
                                    "cross the network in clear)")
    if "timeout_s" in raw:
        opts["timeout_s"] = _number(f"{where}: timeout_s", raw["timeout_s"], 1, 600)
    if "fhir_content" in raw:
        if kind != "fhir" or raw["fhir_content"] not in ("inline", "link"):
            raise ForwardingConfigError(f"{where}: fhir_content is 'inline' or 'link', for a "
                                        "fhir destination")
        opts["fhir_content"] = raw["fhir_content"]
    return Destination(name=name, kind=kind, url=url, **opts)


def parse_config(raw: dict[str, Any], base: Path) -> ForwardingConfig:
    """A checked :class:`ForwardingConfig` from parsed TOML (paths relative to ``base``)."""
    _unknown("forwarding.toml", raw, _TOP_KEYS)
    opts: dict[str, Any] = {}
    for key in ("institution", "manufacturer"):
        if key in raw:
            opts[key] = _string(key, raw[key], 64)
    retry = raw.get("retry", {})
    if not isinstance(retry, dict):
        raise ForwardingConfigError("retry must be a table ([retry])")
    _unknown("retry", retry, _RETRY_KEYS)
    if "initial_s" in retry:
        opts["retry_initial_s"] = _number("retry.initial_s", retry["initial_s"], 0.01, 3600)
    if "max_s" in retry:
        opts["retry_max_s"] = _number("retry.max_s", retry["max_s"], 0.01, 86400)
    if opts.get("retry_max_s", 300.0) < opts.get("retry_initial_s", 2.0):
        raise ForwardingConfigError("retry.max_s must not be below retry.initial_s")
    tables = raw.get("destination", [])
    if not isinstance(tables, list):
        raise ForwardingConfigError("destination must be an array of tables ([[destination]])")
    seen: set[str] = set()
    destinations = tuple(_destination(base, i, t, seen) for i, t in enumerate(tables))
    return ForwardingConfig(destinations=destinations, **opts)


def load_config(data_dir: Path) -> ForwardingConfig:
    """The practice server's forwarding settings; none configured when the file is absent."""
    path = data_dir / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ForwardingConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ForwardingConfigError(f"cannot read {path}: {exc}") from None
    try:
        raw = loads_toml(text)
    except ParseError as exc:
        raise ForwardingConfigError(f"{path}: {exc}") from None
    return parse_config(raw, data_dir)
