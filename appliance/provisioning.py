"""Apply a provisioning bundle: config, enrolment and first admin -- all of it, or none of it.

IT drops ``capture-station.toml`` on the boot partition (or shows its QR code to the camera),
and a station with no keyboard must come up enrolled, configured and with an admin who can
log in -- or, if anything is wrong, come up exactly as blank as before with a journal line
that says what to fix. So everything that can be checked locally is checked *before* the one
step that changes something elsewhere (the receiver spends the one-time token), and the local
writes after it are undone if one fails:

1. validate the bundle (:mod:`sync.provisioning`), the resulting station config (the same
   schema as ``station.toml``) and the admin account (in a scratch copy of the account store);
2. refuse a station that is already enrolled;
3. find the receiver (mDNS, pinned TLS) and enrol (:func:`enrol_station`, which
   ``capture-station enrol`` uses too);
4. write the config atomically, save the enrolment, create the admin; on a failure, remove
   what was written and say which station id the receiver registered;
5. delete the provisioning file (it holds a secret, spent or not).

A failure at any step leaves the station as it was: the identity key made for the enrolment
and the state directories made for it are removed again (:class:`StateSnapshot`), so a
blank station stays blank. The config file need not exist: provisioning is what writes it
(``capture-station provision --config NEW.toml``); the environment's
``CAPTURE_STATION_<SECTION>_<KEY>`` variables apply as they will when the station runs.

The QR path decodes preview frames with the station's own barcode backend and applies the same
bundle; codes that are not provisioning QR codes (a wristband, say) are ignored without being
logged, since they may carry a patient identifier.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import sqlite3
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync import provisioning as fmt
from sync.durable import remove_durably, write_durably
from sync.provisioning import Bundle, BundleError, ProvisioningError
from websecurity.accounts import AccountError, Accounts

from .config import Config, ConfigError, load_config
from .enrolment import Enrolment, enrolment_from_result, load_enrolment, save_enrolment
from .paths import StatePaths
from .web.accounts import ROLES, accounts_path, open_accounts

if TYPE_CHECKING:  # sync.enrol pulls in the HTTPS client: imported where it is used
    from sync.enrol import EnrolResult

log = logging.getLogger("capture_station.provisioning")

#: Where older Raspberry Pi OS releases mount the boot partition; tried after the config's
#: ``[sync] provision_file`` when that is absent.
LEGACY_PROVISION_FILE = Path("/boot") / fmt.FILE_NAME
#: Where the running station spools a bundle it read from a QR code; the systemd path unit
#: ``capture-station-provision.path`` then starts the provisioning service, which has the
#: write access (``/etc/capture-station``) that the sandboxed station deliberately lacks.
QR_SPOOL = Path("/run/capture-station") / fmt.FILE_NAME
#: Keys a bundle's ``[settings]`` may not set: the bundle's own fields, and the state
#: directory, which the systemd unit's sandbox fixes.
RESERVED_SETTINGS = {("sync", "receiver_name"), ("sync", "receiver_pin"),
                     ("station", "name"), ("station", "state_dir")}

Locate = Callable[[Bundle, Config], list[tuple[str, int]]]
Audit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Outcome:
    station_id: str
    status: str  # approved, or pending until the practice admin approves
    receiver_name: str
    station_name: str
    admin_name: str
    config_path: Path


# -- step 1: everything that can be checked here ------------------------------------------------

def _read_existing(config_path: Path) -> tuple[dict[str, Any], bytes | None]:
    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise ProvisioningError(f"cannot read the station config {config_path}: {exc}") \
            from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisioningError(f"the station config {config_path} is not valid TOML ({exc}); "
                                "fix or remove it, then provision again") from None


def render_config(bundle: Bundle, existing: Mapping[str, Any]) -> str:
    """The new ``station.toml``: the existing file, the bundle's settings, then its own keys."""
    problems = [f"[settings.{section}] {key}: set by the bundle itself or fixed by the "
                "installation; remove it from [settings]"
                for section, values in bundle.settings.items() for key in values
                if (section, key) in RESERVED_SETTINGS]
    if problems:
        raise BundleError(problems)
    merged: dict[str, dict[str, Any]] = {}
    for source in (existing, bundle.settings):
        for section, values in source.items():
            if not isinstance(values, dict):
                raise ProvisioningError(f"[{section}] must be a table in the station config")
            merged.setdefault(section, {}).update(values)
    if bundle.station_name:
        merged.setdefault("station", {})["name"] = bundle.station_name
    merged.setdefault("sync", {}).update(receiver_name=bundle.receiver_name,
                                         receiver_pin=bundle.receiver_pin)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    header = (f"# capture-station configuration, written by `capture-station provision` at "
              f"{stamp}.\n# `capture-station config sample` prints every key with its help.\n")
    return header + "\n".join(fmt.toml_tables(merged)) + "\n"


def check_config(text: str, environ: Mapping[str, str] | None = None) -> Config:
    """Validate ``text`` exactly as the station will load it (schema and cross-checks), with
    ``environ``'s variables on top (none by default)."""
    with tempfile.TemporaryDirectory(prefix="capture-provision-") as scratch:
        candidate = Path(scratch) / "station.toml"
        candidate.write_text(text, encoding="utf-8")
        try:
            return load_config(candidate, environ=environ or {}, required=True)
        except ConfigError as exc:
            problems = "\n".join(f"  - {p}" for p in exc.problems)
            what = ("the station config is not valid with this environment's "
                    "CAPTURE_STATION_* variables" if environ else
                    "the bundle's settings do not make a valid station config")
            raise ProvisioningError(f"{what}:\n{problems}") from None


def _add_admin(store: Accounts, bundle: Bundle) -> None:
    admin = bundle.admin
    if admin.password_hash:
        store.add(admin.name, "admin", password_hash=admin.password_hash)
    else:
        store.add(admin.name, "admin", password=admin.one_time_password, one_time=True)


def check_admin(bundle: Bundle, paths: StatePaths) -> None:
    """Create the admin in a scratch account store, so every account rule is applied now."""
    real = accounts_path(paths)
    if real.exists() and Accounts(real, ROLES).get(bundle.admin.name) is not None:
        raise ProvisioningError(f"the station already has a user {bundle.admin.name!r}; "
                                "choose another admin name in the bundle")
    paths.ensure()
    with tempfile.TemporaryDirectory(prefix=".provision-", dir=paths.root) as scratch:
        try:
            _add_admin(Accounts(Path(scratch) / "accounts.db", ROLES), bundle)
        except AccountError as exc:
            raise ProvisioningError(f"[admin] cannot be created: {exc}") from None


# -- step 3: the receiver -------------------------------------------------------------------------

def mdns_locate(wait: float) -> Locate:
    """Browse mDNS for up to ``wait`` seconds for the bundle's receiver (name or pin)."""

    def locate(bundle: Bundle, cfg: Config) -> list[tuple[str, int]]:
        from sync.discovery import find_receiver  # zeroconf: only when mDNS is used

        return find_receiver(bundle.receiver_name, bundle.receiver_pin, timeout=wait,
                             interfaces=cfg.sync.interfaces or None)

    return locate


def fixed_locate(addresses: list[tuple[str, int]]) -> Locate:
    """Skip mDNS (a network that blocks multicast): try these addresses; the pin still holds."""
    return lambda bundle, cfg: list(addresses)


def receiver_locate(addresses: Sequence[tuple[str, int]] | None, wait: float) -> Locate:
    """What ``--address`` and ``--wait`` ask for: these addresses if any were given (parsed
    by :func:`sync.address.parse_address`), else an mDNS browse of ``wait`` seconds."""
    if addresses:
        return fixed_locate(list(addresses))
    return mdns_locate(wait)


def log_audit(event: str, details: dict[str, Any]) -> None:
    """Audit sink for enrolment: a log line without the bundle's secrets."""
    log.warning("%s %s", event, {k: v for k, v in details.items() if not fmt.is_secret_key(k)})


def enrol_station(bundle: Bundle, cfg: Config, addresses: list[tuple[str, int]], *,
                  audit: Audit = log_audit, timeout: float = 30.0) -> EnrolResult:
    """Enrol this station's identity key (made the first time) at the first of ``addresses``
    that shows the bundle's pin; ``sync.enrol.EnrolError`` says why not.

    The one enrolment step of ``capture-station provision`` and ``capture-station enrol``.
    """
    from sync.enrol import enrol

    from .vault.keys import load_or_create_identity

    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    identity = load_or_create_identity(paths)
    return enrol(identity.private_key, bundle, addresses,
                 station_name=bundle.station_name or cfg.station.name, audit=audit,
                 timeout=timeout)


# -- the whole thing ------------------------------------------------------------------------------

class StateSnapshot:
    """What of the station's state provisioning may create, and whether it existed before:
    after a failure :meth:`undo` removes what this run made (the identity key, then the empty
    directories), and nothing else -- a station that runs meanwhile keeps its own files."""

    def __init__(self, paths: StatePaths) -> None:
        self.paths = paths
        self.had_identity = paths.identity_key.exists()
        dirs = [paths.tls, paths.keys, paths.captures, paths.root]
        parent = paths.root.parent
        while not parent.exists() and parent != parent.parent:
            dirs.append(parent)
            parent = parent.parent
        self.new_dirs = [d for d in dirs if not d.exists()]

    def undo(self) -> None:
        if not self.had_identity:
            try:
                remove_durably(self.paths.identity_key)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove the identity key made for a failed "
                            "provisioning: %s", exc.strerror)
        for directory in self.new_dirs:  # deepest first
            try:
                directory.rmdir()
            except OSError:
                pass  # absent, or something else put a file there: not ours to remove


def apply_bundle(
    bundle: Bundle,
    config_path: Path,
    *,
    locate: Locate,
    audit: Audit = log_audit,
    timeout: float = 30.0,
    environ: Mapping[str, str] | None = None,
) -> Outcome:
    """Validate, enrol, write config, enrolment and admin; raise :class:`ProvisioningError`
    and keep nothing on any failure. ``environ``: the variables the station will run with
    (default: this process's)."""
    existing, old_config = _read_existing(config_path)
    text = render_config(bundle, existing)
    check_config(text)  # the file alone is a valid config ...
    cfg = check_config(text, os.environ if environ is None else environ)  # ... and as run
    paths = StatePaths(cfg.state_dir)
    enrolled = load_enrolment(paths)
    if enrolled is not None:
        raise ProvisioningError(
            f"this station is already enrolled (as {enrolled.station_id} with receiver "
            f"{enrolled.receiver_name!r}); the bundle was not applied. To move it to another "
            "practice, re-flash it (docs/deploy.md, 'Replace a station')")
    snapshot = StateSnapshot(paths)
    try:
        return _enrol_and_commit(bundle, config_path, text, old_config, cfg, paths,
                                 locate=locate, audit=audit, timeout=timeout)
    except BaseException:
        snapshot.undo()
        raise


def _enrol_and_commit(bundle: Bundle, config_path: Path, text: str, old_config: bytes | None,
                      cfg: Config, paths: StatePaths, *, locate: Locate, audit: Audit,
                      timeout: float) -> Outcome:
    """Steps 1 (the admin) to 4 of :func:`apply_bundle`, once the station is known blank."""
    from sync.enrol import EnrolError

    check_admin(bundle, paths)
    if not config_path.parent.is_dir():
        raise ProvisioningError(f"the config directory {config_path.parent} does not exist "
                                "(the install script creates it)")

    addresses = locate(bundle, cfg)
    if not addresses:
        raise ProvisioningError(
            f"no receiver named {bundle.receiver_name!r} (or with the provisioned pin) was "
            "found on the network; check that `capture-receiver serve` runs on the practice "
            "server and that both are on the same LAN, then reboot the station")
    try:
        result = enrol_station(bundle, cfg, addresses, audit=audit, timeout=timeout)
    except EnrolError as exc:
        raise EnrolError(f"enrolment failed: {exc}") from None

    try:
        _commit(bundle, config_path, text, old_config, paths, enrolment_from_result(result))
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise ProvisioningError(
            f"the receiver registered this station as {result.station_id}, but saving the "
            f"setup failed ({exc}); nothing was kept. Ask the practice admin to run "
            f"`capture-receiver stations revoke {result.station_id}` and issue a new token"
        ) from None
    return Outcome(result.station_id, result.status, result.receiver_name,
                   bundle.station_name or cfg.station.name, bundle.admin.name, config_path)


def _commit(bundle: Bundle, config_path: Path, text: str, old_config: bytes | None,
            paths: StatePaths, enrolment: Enrolment) -> None:
    """Config, enrolment, admin -- in that order; undo the earlier ones if a later one fails.

    The admin comes last because an account is the one write that cannot simply be put back
    by rewriting a file; it was already created once in a scratch store, so it will not fail
    for a reason of its own.
    """
    done: list[str] = []
    try:
        write_durably(config_path, text.encode("utf-8"), 0o640)
        done.append("config")
        save_enrolment(paths, enrolment)
        done.append("enrolment")
        _add_admin(open_accounts(paths), bundle)
    except (OSError, ValueError, sqlite3.Error):
        if "enrolment" in done:
            paths.enrolment.unlink(missing_ok=True)
        if "config" in done:
            if old_config is None:
                config_path.unlink(missing_ok=True)
            else:
                write_durably(config_path, old_config, 0o640)
        raise


def remove_bundle_file(path: Path) -> None:
    """Delete the spent file durably (unlink, then fsync the directory); gone already is fine.

    The boot partition is FAT, and some FAT drivers refuse fsync on a directory: then the
    unlink stands and only its durability is the driver's. A failed unlink still raises.
    """
    try:
        remove_durably(path)
    except OSError:
        if os.path.lexists(path):
            raise


def provision_file(path: Path, config_path: Path, *, locate: Locate,
                   audit: Audit = log_audit, timeout: float = 30.0) -> Outcome:
    """Apply the bundle in ``path`` and delete it. The file stays if anything failed."""
    bundle = fmt.read_toml(path)
    outcome = apply_bundle(bundle, config_path, locate=locate, audit=audit, timeout=timeout)
    try:
        remove_bundle_file(path)
    except OSError as exc:
        raise ProvisioningError(
            f"provisioned as {outcome.station_id}, but {path} could not be deleted ({exc}); "
            "it holds the admin's password: delete it by hand") from None
    return outcome


def default_bundle_path(cfg: Config, spool: Path | None = None) -> Path:
    """The config's ``[sync] provision_file``; else the first that exists of the legacy /boot
    location and the QR spool."""
    configured = Path(cfg.sync.provision_file)
    if not configured.exists():
        for other in (LEGACY_PROVISION_FILE, spool or QR_SPOOL):
            if other.exists():
                return other
    return configured


# -- the QR path ----------------------------------------------------------------------------------

class QrDecoder:
    """QR codes only, through the station's barcode backend (zxing-cpp)."""

    def __init__(self) -> None:
        from barcode.backends import ZxingBackend

        self._backend = ZxingBackend(formats=("qrcode",))

    def __call__(self, frame: Any) -> list[str]:
        return [read.text for read in self._backend.decode(frame)]


def bundle_in_texts(texts: list[str]) -> Bundle | None:
    """The first provisioning bundle among decoded texts; other codes are ignored unlogged.

    A code that claims to be a provisioning QR but does not validate is an error worth
    showing (a damaged or foreign print-out); its problems never quote its secrets.
    """
    for text in texts:
        if fmt.is_qr_payload(text):
            return fmt.parse_qr_payload(text)
    return None


def scan_for_bundle(
    camera: Any,
    *,
    timeout: float,
    decoder: Callable[[Any], list[str]] | None = None,
    still_every: int = 8,
    interval: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Bundle | None:
    """Watch the camera for a provisioning QR code for up to ``timeout`` seconds.

    Preview frames are small (640x480) and a dense QR code may be too fine for them, so every
    ``still_every``-th attempt decodes a full-resolution still instead (in memory; nothing is
    written). Returns None on timeout.
    """
    from PIL import Image

    decode = decoder or QrDecoder()
    camera.start()
    deadline = clock() + timeout
    attempt = 0
    while True:
        attempt += 1
        if still_every and attempt % still_every == 0:
            with Image.open(io.BytesIO(camera.capture_jpeg())) as still:
                frame: Any = still.convert("L")
        else:
            frame = camera.preview_luma()
        found = bundle_in_texts(decode(frame))
        if found is not None:
            return found
        if clock() >= deadline:
            return None
        sleep(interval)


def provision_from_camera(camera: Any, config_path: Path, *, locate: Locate, timeout: float,
                          audit: Audit = log_audit, **scan: Any) -> Outcome | None:
    """Wait for a provisioning QR code and apply it; None if none was shown in time."""
    bundle = scan_for_bundle(camera, timeout=timeout, **scan)
    if bundle is None:
        return None
    return apply_bundle(bundle, config_path, locate=locate, audit=audit)


class QrSpooler:
    """For the station's scan loop while it is not enrolled: watch frames for a provisioning
    QR code and, once one validates, write it (0600) to ``spool`` for the provisioning service.

    The station process cannot apply a bundle itself: its sandbox keeps /etc read-only, which
    is the point. ``feed`` returns the bundle the first time one is spooled, else None; a
    damaged provisioning code is logged once (its problems, never its secrets).
    """

    def __init__(self, spool: Path | None = None,
                 decoder: Callable[[Any], list[str]] | None = None) -> None:
        self.spool = spool or QR_SPOOL
        self._decode = decoder or QrDecoder()
        self._spooled: set[str] = set()  # QR payloads already handed over
        self._reported: set[str] = set()

    def feed(self, frame: Any) -> Bundle | None:
        """Decode ``frame``; spool a bundle not spooled before (a failed one is not retried
        while the same code stays in view: IT shows a new one)."""
        try:
            bundle = bundle_in_texts(self._decode(frame))
        except BundleError as exc:
            if str(exc) not in self._reported:
                self._reported.add(str(exc))
                log.warning("provisioning QR code rejected: %s", exc)
            return None
        if bundle is None:
            return None
        payload = fmt.to_qr_payload(bundle)
        if payload in self._spooled or self.spool.exists():
            return None
        self.spool.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fmt.write_toml(self.spool, bundle)
        self._spooled.add(payload)
        log.info("provisioning QR code read; handed to capture-station-provision")
        return bundle


def config_path_for(explicit: str | os.PathLike[str] | None,
                    environ: Mapping[str, str] | None = None) -> Path:
    """Where provisioning writes the station config: ``--config``, $CAPTURE_STATION_CONFIG,
    or the default path."""
    from .config import DEFAULT_CONFIG_PATH

    environ = os.environ if environ is None else environ
    if explicit is not None:
        return Path(explicit)
    return Path(environ.get("CAPTURE_STATION_CONFIG", str(DEFAULT_CONFIG_PATH)))
