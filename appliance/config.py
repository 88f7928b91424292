"""Station configuration: defaults, then one TOML file, then the environment, validated strictly.

A typo in a safety setting (``consent_requried = false``) must never be silently ignored, so
every key is declared in :data:`SCHEMA` and anything unknown, mistyped or out of range stops the
program with a message that names the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from barcode.interpret import LocalFormat
from barcode.symbols import SYMBOLOGIES
from sync.strictparse import ParseError, loads_toml, shown

from .errors import StationError

DEFAULT_CONFIG_PATH = Path("/etc/capture-station/station.toml")
ENV_PREFIX = "CAPTURE_STATION_"
#: Environment variables with the prefix that are not settings.
ENV_RESERVED = {"CAPTURE_STATION_CONFIG", "CAPTURE_STATION_SKIP_APT"}

DEFAULT_BODY_SITES = (
    "head", "face", "neck", "chest", "abdomen", "back", "sacrum", "arm", "hand",
    "leg", "knee", "foot", "heel", "perineum",
)


class ConfigError(StationError, ValueError):
    """The configuration cannot be used; ``problems`` lists every reason, one per key."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"invalid configuration ({self.source}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class Setting:
    """One declared key: its type, default, bounds and a line of help for the reference."""

    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    item_choices: tuple[str, ...] | None = None
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is list:
            if self.item_choices:
                return "a list of " + ", ".join(repr(c) for c in self.item_choices)
            return "a list"
        name = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
        text = name.get(self.kind, self.kind.__name__)
        if self.min is not None and self.max is not None:
            text += f" from {self.min:g} to {self.max:g}"
        elif self.min is not None:
            text += f" >= {self.min:g}"
        return text


def _pin_check(value: Any) -> str | None:
    return None if 0 <= value <= 27 else "a BCM GPIO number from 0 to 27"


def _hex_pin_check(value: str) -> str | None:
    if value == "" or re.fullmatch(r"[0-9a-f]{64}", value):
        return None
    return "empty (not yet provisioned) or 64 lowercase hex digits (SHA-256 of the SPKI)"


#: Longest regular expression a local format may have (real ones are a few dozen characters).
MAX_PATTERN = 1000
#: The keys of one ``[[barcode.local_formats]]`` table: the fields of barcode's LocalFormat.
_LOCAL_FORMAT_KEYS = frozenset(f.name for f in fields(LocalFormat))


def _local_formats_check(value: list[Any]) -> str | None:
    """The TOML shape (tables of known keys, strings where strings belong) is checked here;
    whether a format is usable is barcode's own rule (:meth:`LocalFormat.from_mapping`), so
    the config cannot accept a format the reader refuses, or the other way round."""
    allowed = sorted(_LOCAL_FORMAT_KEYS)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return f"entry {i} must be a table with keys {allowed}"
        unknown = set(item) - _LOCAL_FORMAT_KEYS
        if unknown:
            return f"entry {i} has unknown key(s) {sorted(unknown)}; allowed: {allowed}"
        if not isinstance(item.get("pattern"), str):
            return f"entry {i}: pattern must be a string (a regular expression)"
        if "issuer" in item and not isinstance(item["issuer"], str):
            return f"entry {i}: issuer must be a string"
        if len(item["pattern"]) > MAX_PATTERN:
            return f"entry {i}: pattern is longer than {MAX_PATTERN} characters"
        try:
            LocalFormat.from_mapping(item)
        except ValueError as exc:
            return f"entry {i}: {exc}"
        except (RecursionError, OverflowError):  # the regex compiler's own limits
            return f"entry {i}: pattern is nested too deep or repeats too often"
    return None


S = Setting
#: Every section and key the station understands. The README's configuration reference and
#: ``config/station.sample.toml`` document the same keys; a test keeps them in step.
SCHEMA: dict[str, dict[str, Setting]] = {
    "station": {
        "name": S(str, "exam-room", "Human name of the station, shown in the UI and receipts."),
        "state_dir": S(str, "/var/lib/capture-station", "Where sealed captures, the outbox and "
                       "keys live (systemd StateDirectory)."),
        "log_level": S(str, "info", "Log verbosity.", choices=("debug", "info", "warning",
                                                               "error")),
    },
    "camera": {
        "backend": S(str, "picamera2", "Camera driver: the Pi camera, or a rendered fake scene.",
                     choices=("picamera2", "fake")),
        "still_width": S(int, 4056, "Still capture width in pixels.", min=320, max=9152),
        "still_height": S(int, 3040, "Still capture height in pixels.", min=240, max=6944),
        "lores_width": S(int, 640, "Preview (barcode scanning) width in pixels.", min=160,
                         max=1920),
        "lores_height": S(int, 480, "Preview (barcode scanning) height in pixels.", min=120,
                          max=1080),
        "jpeg_quality": S(int, 90, "JPEG quality of stills.", min=50, max=100),
        "autofocus": S(bool, True, "Run an autofocus cycle before each still when the camera "
                       "has autofocus."),
    },
    "gpio": {
        "pin_factory": S(str, "auto", "gpiozero pin factory; 'mock' for a machine without GPIO.",
                         choices=("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")),
        "button_pin": S(int, 17, "BCM pin of the capture button (to ground, internal pull-up).",
                        check=_pin_check),
        "hold_seconds": S(float, 2.0, "Holding the button this long ends the session.",
                          min=0.5, max=10.0),
        "bounce_seconds": S(float, 0.05, "Button debounce time.", min=0.0, max=0.5),
        "led_kind": S(str, "single", "Status LED: one LED or an RGB LED.",
                      choices=("single", "rgb")),
        "led_pin": S(int, 27, "BCM pin of the single status LED.", check=_pin_check),
        "led_red_pin": S(int, 22, "BCM pin of the RGB LED's red leg.", check=_pin_check),
        "led_green_pin": S(int, 23, "BCM pin of the RGB LED's green leg.", check=_pin_check),
        "led_blue_pin": S(int, 24, "BCM pin of the RGB LED's blue leg.", check=_pin_check),
        "led_active_high": S(bool, True, "False for a common-anode LED."),
        "buzzer": S(bool, True, "Sound the buzzer on buzzer_pin (the README's wiring); false "
                    "where none is fitted or to silence it."),
        "buzzer_pin": S(int, 18, "BCM pin of the buzzer.", check=_pin_check),
    },
    "barcode": {
        "backends": S(list, ["zxing-cpp", "pyzbar"], "Decoders in order of preference; the "
                      "first that is installed is used.", item_choices=("zxing-cpp", "pyzbar")),
        "formats": S(list, list(SYMBOLOGIES), "Symbologies to look for (fewer is faster).",
                     item_choices=SYMBOLOGIES),
        "consecutive_reads": S(int, 2, "Consecutive frames that must agree before a patient is "
                               "accepted.", min=1, max=10),
        "scan_rate_hz": S(float, 8.0, "Preview frames decoded per second.", min=1.0, max=30.0),
        "second_look": S(bool, True, "Look closer where a frame shows a symbol it cannot "
                         "decode; false: one plain decode per frame."),
        "stack_frames": S(int, 4, "Frames averaged for a band held still in the second look "
                          "(1: no averaging).", min=1, max=16),
        "local_formats": S(list, [], "Local wristband formats: tables with symbology, pattern "
                           "(named groups id, issuer, encounter), role and issuer.",
                           check=_local_formats_check),
    },
    "vault": {
        "reserve_mb": S(int, 256, "Free disk space kept in reserve; below it captures are "
                        "refused.", min=16, max=1_000_000),
        "review_window_hours": S(float, 24.0, "How long a delivered capture stays on the "
                                 "station for review before it is shredded.", min=0.0,
                                 max=720.0),
        "lease_seconds": S(int, 300, "How long an upload may hold a capture before another "
                           "attempt may take it.", min=10, max=86_400),
    },
    "sync": {
        "receiver_name": S(str, "", "mDNS instance name of the practice receiver (from "
                           "provisioning)."),
        "receiver_pin": S(str, "", "SHA-256 of the receiver's TLS public key (from "
                          "provisioning).", check=_hex_pin_check),
        "interfaces": S(list, [], "Addresses to browse mDNS on; empty means all."),
        "retry_min_seconds": S(float, 2.0, "First retry delay after a failed delivery.",
                               min=0.1, max=3600.0),
        "retry_max_seconds": S(float, 300.0, "Longest retry delay.", min=1.0, max=86_400.0),
        "provision_file": S(str, "/boot/firmware/capture-station.toml", "Provisioning file "
                            "applied at first boot, then deleted."),
    },
    "workflow": {
        "consent_required": S(bool, True, "A consent level must be set before the first "
                              "capture of a session."),
        "emergency_override": S(bool, False, "Allow the emergency-override card to capture "
                                "without consent (recorded)."),
        "idle_timeout_seconds": S(int, 120, "A session with no activity ends after this long.",
                                  min=10, max=3600),
        "rescan_after_seconds": S(int, 300, "Seconds after the last wristband read that "
                                  "a capture needs the band shown again (0: never).", min=0,
                                  max=86_400),
        "require_operator": S(bool, False, "A caregiver badge or web login must identify the "
                              "operator before capture."),
        "body_sites": S(list, list(DEFAULT_BODY_SITES), "Body sites offered on cards and in "
                        "the UI."),
    },
    "web": {
        "enabled": S(bool, True, "Serve the local review UI."),
        "listen": S(str, "0.0.0.0", "Address the review UI listens on."),  # noqa: S104
        "port": S(int, 8443, "HTTPS port of the review UI.", min=1, max=65535),
        "idle_timeout_minutes": S(int, 15, "Sign out after this much inactivity.", min=1,
                                  max=240),
        "absolute_timeout_hours": S(int, 8, "Sign out after this long regardless.", min=1,
                                    max=24),
    },
}
del S


class Section(Mapping[str, Any]):
    """Read-only view of one section; keys are also attributes (``cfg.camera.backend``)."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self._values = values

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"[{self._name}] has no key {key!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._values!r})"


class Config:
    """A validated configuration; ``source`` says where it came from, for messages."""

    def __init__(self, values: dict[str, dict[str, Any]], source: str) -> None:
        self._sections = {name: Section(name, dict(v)) for name, v in values.items()}
        self.source = source

    def __getattr__(self, name: str) -> Section:
        try:
            return self._sections[name]
        except KeyError:
            raise AttributeError(f"no config section {name!r}") from None

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dict(section) for name, section in self._sections.items()}

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, validated like a file (used by demo and tests)."""
        merged = self.as_dict()
        problems: list[str] = []
        for name, updates in sections.items():
            _merge_section(merged, name, dict(updates), problems)
        if problems:
            raise ConfigError(problems, self.source)
        return Config(merged, self.source)

    @property
    def state_dir(self) -> Path:
        return Path(self.station.state_dir)


def defaults() -> dict[str, dict[str, Any]]:
    return {
        name: {key: _copy(s.default) for key, s in keys.items()}
        for name, keys in SCHEMA.items()
    }


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_value(section: str, key: str, value: Any, setting: Setting) -> str | None:
    where = f"[{section}] {key}"
    allowed = setting.describe()
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            return f"{where} = {shown(value)} is too large; expected {allowed}"
    if setting.kind is bool:
        ok = isinstance(value, bool)
    elif setting.kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, setting.kind)
    if not ok:
        return f"{where} = {shown(value)} has the wrong type; expected {allowed}"
    if setting.kind is float and not math.isfinite(value):
        # nan passes every min/max comparison; inf is never a sensible time or rate
        return f"{where} = {shown(value)} is not a finite number; expected {allowed}"
    if setting.choices is not None and value not in setting.choices:
        return f"{where} = {shown(value)} is not allowed; expected {allowed}"
    if setting.min is not None and value < setting.min:
        return f"{where} = {shown(value)} is too small; expected {allowed}"
    if setting.max is not None and value > setting.max:
        return f"{where} = {shown(value)} is too large; expected {allowed}"
    if setting.kind is list and setting.item_choices is not None:
        bad = [v for v in value if v not in setting.item_choices]
        if bad:
            return f"{where} contains {bad!r}; expected {allowed}"
    if setting.kind is list and setting.check is None and setting.item_choices is None:
        if not all(isinstance(v, str) for v in value):
            return f"{where} must be a list of strings"
    if setting.check is not None:
        reason = setting.check(value)
        if reason:
            return f"{where} = {shown(value)} is not allowed; expected {reason}"
    return None


def _merge_section(
    merged: dict[str, dict[str, Any]], section: str, values: Any, problems: list[str]
) -> None:
    if section not in SCHEMA:
        problems.append(
            f"unknown section [{section}]{_suggest(section, list(SCHEMA))} "
            f"(sections: {', '.join(SCHEMA)})"
        )
        return
    if not isinstance(values, dict):
        problems.append(f"[{section}] must be a table")
        return
    keys = SCHEMA[section]
    for key, value in values.items():
        if key not in keys:
            problems.append(
                f"[{section}] {key}: unknown key{_suggest(key, list(keys))} "
                f"(allowed: {', '.join(keys)})"
            )
            continue
        setting = keys[key]
        reason = _check_value(section, key, value, setting)
        if reason:
            problems.append(reason)
            continue
        if setting.kind is float:
            value = float(value)
        merged[section][key] = _copy(value)


def _parse_env_value(raw: str, setting: Setting) -> Any:
    if setting.kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            return raw
    if setting.kind is float:
        try:
            return float(raw)
        except ValueError:
            return raw
    if setting.kind is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _env_overrides(environ: Mapping[str, str], problems: list[str]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in SCHEMA if rest.startswith(s + "_")), None)
        if section is None:
            problems.append(f"environment {name}: no such section (sections: {', '.join(SCHEMA)})")
            continue
        key = rest[len(section) + 1:]
        setting = SCHEMA[section].get(key)
        if setting is None:
            problems.append(
                f"environment {name}: [{section}] has no key {key!r}"
                f"{_suggest(key, list(SCHEMA[section]))}"
            )
            continue
        if setting.check is _local_formats_check:
            problems.append(f"environment {name}: [{section}] {key} can only be set in the file")
            continue
        overrides.setdefault(section, {})[key] = _parse_env_value(raw, setting)
    return overrides


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    required: bool | None = None,
) -> Config:
    """Load defaults, then ``path`` (TOML), then ``CAPTURE_STATION_<SECTION>_<KEY>`` variables.

    ``path=None`` means ``$CAPTURE_STATION_CONFIG`` or the default path. An explicitly named
    file must exist; the default file may be absent (defaults apply). Raises
    :class:`ConfigError` listing every problem.
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None or "CAPTURE_STATION_CONFIG" in environ
    if path is None:
        path = environ.get("CAPTURE_STATION_CONFIG", str(DEFAULT_CONFIG_PATH))
    path = Path(path)
    required = explicit if required is None else required
    merged = defaults()
    problems: list[str] = []
    source = str(path)
    if path.exists():
        try:
            data = loads_toml(path.read_text(encoding="utf-8"))
        except ParseError as exc:
            raise ConfigError([str(exc)], source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"cannot read: {exc}"], source) from None
        for section, values in data.items():
            _merge_section(merged, section, values, problems)
    elif required:
        raise ConfigError(["file not found"], source)
    else:
        source = f"defaults ({path} absent)"
    for section, values in _env_overrides(environ, problems).items():
        _merge_section(merged, section, values, problems)
    _cross_checks(merged, problems)
    if problems:
        raise ConfigError(problems, source)
    return Config(merged, source)


def _cross_checks(merged: dict[str, dict[str, Any]], problems: list[str]) -> None:
    sync = merged["sync"]
    if sync["retry_min_seconds"] > sync["retry_max_seconds"]:
        problems.append("[sync] retry_min_seconds must not exceed retry_max_seconds")
    if not merged["barcode"]["formats"]:
        problems.append("[barcode] formats must name at least one symbology")
    if not merged["barcode"]["backends"]:
        problems.append("[barcode] backends must name at least one decoder")
    gpio = merged["gpio"]
    used = [gpio["button_pin"]]
    used += [gpio["led_pin"]] if gpio["led_kind"] == "single" else [
        gpio["led_red_pin"], gpio["led_green_pin"], gpio["led_blue_pin"]]
    if gpio["buzzer"]:
        used.append(gpio["buzzer_pin"])
    if len(set(used)) != len(used):
        hint = ("; set buzzer = false if no buzzer is fitted"
                if gpio["buzzer"] and used.count(gpio["buzzer_pin"]) > 1 else "")
        problems.append(f"[gpio] the button, LED and buzzer pins must differ (got {used}){hint}")
