"""``capture-station doctor``: is everything the station needs present, and if not, what to do.

Each check returns ok, warn (works, but look at it) or fail (the station cannot do its job);
any fail makes the command exit non-zero. Checks never print secrets or patient data.

Run by another user than the station service's, the state directory (0700, the service's
user) cannot be read: then the doctor says exactly that, and how to run it as that user,
instead of checking what it cannot see (an unreadable enrolment is not a missing one). The
receiver check does what the station does before it delivers: find the receiver over mDNS
(or at ``--address``), complete a TLS handshake and compare the key with the pin.
"""

from __future__ import annotations

import importlib
import os
import pwd
import shutil
import ssl
import sys
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sync.durable import remove_durably, write_durably
from sync.terminal import printable

from .config import Config
from .enrolment import Enrolment, load_enrolment
from .paths import StatePaths
from .web.tls import read_web_tls

OK, WARN, FAIL = "ok", "warn", "fail"
#: The station service's user (systemd/capture-station.service ``User=``): who may read the
#: state directory when its owner cannot be looked up.
SERVICE_USER = "capture-station"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def check_camera(cfg: Config) -> Check:
    if cfg.camera.backend == "fake":
        return Check("camera", WARN, "fake camera (rendered scenes; for demos and tests)",
                     "set [camera] backend = 'picamera2' on a station")
    try:
        module = importlib.import_module("picamera2")
    except ImportError:
        return Check("camera", FAIL, "picamera2 is not importable",
                     "apt install python3-picamera2; venv with --system-site-packages")
    try:
        cameras = module.Picamera2.global_camera_info()
    except Exception as exc:  # noqa: BLE001
        return Check("camera", FAIL, f"libcamera error: {exc}", "check the camera cable")
    if not cameras:
        return Check("camera", FAIL, "no camera detected",
                     "check the ribbon cable; `rpicam-hello --list-cameras`")
    model = cameras[0].get("Model", "unknown") if isinstance(cameras[0], dict) else "camera"
    return Check("camera", OK, f"picamera2: {model}")


def check_gpio(cfg: Config) -> Check:
    name = cfg.gpio.pin_factory
    if name == "mock":
        return Check("gpio", WARN, "mock pins (no physical button or LED)",
                     "set [gpio] pin_factory = 'auto' or 'lgpio' on a station")
    from capture.controls import make_pin_factory

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factory = make_pin_factory(name)
            if factory is None:
                from gpiozero import Device

                factory = Device._default_pin_factory()
        label = type(factory).__name__
        factory.close()
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds when no GPIO
        return Check("gpio", FAIL, f"pin factory {name!r} unavailable: {exc}",
                     "on a Pi: pip install lgpio (extra 'pi'); elsewhere: pin_factory = 'mock'")
    return Check("gpio", OK, f"pin factory {label}")


def _backend_available(backend: str) -> str | None:
    try:
        if backend == "zxing-cpp":
            importlib.import_module("zxingcpp")
        elif backend == "pyzbar":
            importlib.import_module("pyzbar.pyzbar")
        else:
            return f"unknown backend {backend}"
    except (ImportError, OSError) as exc:
        return str(exc)
    return None


def check_barcode(cfg: Config) -> Check:
    backends = cfg.barcode.backends
    problems = {b: _backend_available(b) for b in backends}
    working = [b for b, p in problems.items() if p is None]
    broken = {b: p for b, p in problems.items() if p is not None}
    if not working:
        return Check("barcode", FAIL, "no barcode decoder: " + "; ".join(
            f"{b}: {p}" for b, p in broken.items()),
            "pip install zxing-cpp pyzbar; apt install libzbar0")
    if broken:
        return Check("barcode", WARN, f"using {working[0]}; unavailable: " + ", ".join(broken),
                     "apt install libzbar0 (for pyzbar)")
    return Check("barcode", OK, "decoders: " + ", ".join(working))


def check_hpke() -> Check:
    try:
        import cryptography
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
    except ImportError as exc:
        return Check("hpke", FAIL, f"cryptography lacks HPKE ({exc})",
                     "pip install 'cryptography>=47'")
    try:
        suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
        key = X25519PrivateKey.generate()
        sealed = suite.encrypt(b"doctor", key.public_key(), info=b"doctor")
        ok = suite.decrypt(sealed, key, info=b"doctor") == b"doctor"
    except Exception as exc:  # noqa: BLE001
        return Check("hpke", FAIL, f"HPKE self-test failed: {exc}",
                     "pip install 'cryptography>=47'")
    if not ok:
        return Check("hpke", FAIL, "HPKE self-test returned wrong plaintext", "reinstall")
    return Check("hpke", OK, f"X25519/HKDF-SHA256/ChaCha20-Poly1305 (cryptography "
                 f"{cryptography.__version__})")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _state_owner(root: Path) -> str:
    """Who owns ``root`` (or the nearest parent that exists): the user to run as."""
    try:
        return _user_name(_existing_parent(root).stat().st_uid)
    except OSError:
        return SERVICE_USER


def program_path() -> str:
    """How this program was started, as a command another user can run: the script's full
    path (sudo's PATH rarely has the venv's bin/), else its name."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return str(started.absolute()) if started.name == "capture-station" else "capture-station"


def run_as_advice(cfg: Config, owner: str) -> str:
    """The command that runs the doctor as ``owner``, with this config (when not default)."""
    config = "" if cfg.source.startswith("defaults") else f" --config {cfg.source}"
    return f"run it as the station's user: sudo -u {owner} {program_path()} doctor{config}"


def check_state_access(cfg: Config) -> Check | None:
    """None when this user can read the state directory and the files the checks open (or it
    does not exist yet: ``check_state_dir`` makes it); else the one fail that says so."""
    root = cfg.state_dir
    paths = StatePaths(root)
    try:
        with os.scandir(root):
            pass
        for path in (paths.enrolment, paths.identity_key):
            if path.exists():
                path.open("rb").close()
    except PermissionError:
        owner = _state_owner(root)
        me = _user_name(os.geteuid())
        return Check("state_dir", FAIL,
                     f"cannot read the state directory {root} as user {me!r} (it belongs to "
                     f"{owner!r}); enrolment, accounts and certificates were not checked",
                     run_as_advice(cfg, owner if owner != me else SERVICE_USER))
    except OSError:  # absent, or not a directory: check_state_dir says what to do
        return None
    return None


def check_state_dir(cfg: Config) -> Check:
    root = cfg.state_dir
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = root / f".doctor-{uuid.uuid4().hex}"
        # The same write the vault does (temp, fsync, link, directory fsync), then removed.
        write_durably(probe, b"x", replace=False)
        remove_durably(probe)
    except OSError as exc:
        owner = _state_owner(root) if root.is_dir() else ""
        fix = (run_as_advice(cfg, owner) if isinstance(exc, PermissionError) and owner
               and owner != _user_name(os.geteuid())
               else "create it for the station user, or set [station] state_dir")
        return Check("state_dir", FAIL, f"{root} is not writable ({exc.strerror})", fix)
    return Check("state_dir", OK, f"{root} writable")


def check_disk(cfg: Config) -> Check:
    root = _existing_parent(cfg.state_dir)
    free_mb = shutil.disk_usage(root).free // (1024 * 1024)
    reserve = cfg.vault.reserve_mb
    if free_mb < reserve:
        return Check("disk", FAIL, f"{free_mb} MB free, below the {reserve} MB reserve: "
                     "captures will be refused", "free space or lower [vault] reserve_mb")
    if free_mb < 2 * reserve:
        return Check("disk", WARN, f"{free_mb} MB free (reserve {reserve} MB)",
                     "free space soon")
    return Check("disk", OK, f"{free_mb} MB free (reserve {reserve} MB)")


def check_enrolment(cfg: Config) -> Check:
    enrolment = load_enrolment(StatePaths(cfg.state_dir))
    if enrolment is None:
        return Check("enrolment", FAIL, "station not enrolled: captures are refused",
                     "capture-station enrol --provision FILE (or drop the provisioning file)")
    receiver = printable(enrolment.receiver_name or "receiver")
    return Check("enrolment", OK, f"enrolled with {receiver} as station {enrolment.station_id}")


def check_web_tls(cfg: Config) -> Check:
    """The review UI certificate's fingerprint (compare it with what the browser shows)."""
    if not cfg.web.enabled:
        return Check("web_tls", OK, "web UI disabled ([web] enabled = false)")
    current = read_web_tls(StatePaths(cfg.state_dir))
    if current is None:
        return Check("web_tls", WARN, "no usable UI certificate yet; the station creates one "
                     "at its next start", "start the station (capture-station run)")
    return Check("web_tls", OK, f"SHA-256 {current.fingerprint} (valid until "
                 f"{current.not_after:%Y-%m-%d})")


@dataclass(frozen=True)
class ReceiverProbe:
    """How to look for the receiver: fixed addresses (``--address``) or an mDNS browse."""

    addresses: Sequence[tuple[str, int]] = field(default_factory=tuple)
    wait: float = 5.0
    timeout: float = 5.0


def _handshake(host: str, port: int, pin: str, timeout: float) -> None:
    """TCP connect, TLS handshake and pin comparison, then close: nothing sent over HTTP."""
    from sync.pinning import PinnedHTTPSConnection

    conn = PinnedHTTPSConnection(host, port, pin, timeout=timeout)
    try:
        conn.connect()
    finally:
        conn.close()


def check_receiver(cfg: Config, enrolment: Enrolment | None,
                   probe: ReceiverProbe | None = None) -> Check:
    """Can this station reach its receiver now: found (mDNS), TLS, and the provisioned pin?

    Unreachable is a warning (captures queue safely until it answers); a key that is not the
    pin is a fail (the station will never deliver to it).
    """
    from sync.pinning import PinMismatch

    if enrolment is None:
        return Check("receiver", WARN, "not checked: the station is not enrolled")
    probe = probe or ReceiverProbe()
    name = enrolment.receiver_name
    if probe.addresses:
        found, how = list(probe.addresses), "--address"
    else:
        from sync.discovery import find_receiver

        try:
            found = find_receiver(name, enrolment.receiver_pin, timeout=probe.wait,
                                  interfaces=cfg.sync.interfaces or None)
        except OSError as exc:
            return Check("receiver", WARN, f"mDNS cannot browse here ({exc})",
                         "check the network; or try capture-station doctor --address HOST:PORT")
        how = "mDNS"
        if not found:
            return Check("receiver", WARN,
                         f"mDNS: no receiver {name!r} (nor its pin) seen within "
                         f"{probe.wait:g} s; captures queue until it is found",
                         "is `capture-receiver serve` running on the practice server, on this "
                         "LAN, with multicast allowed? (or --address HOST:PORT)")
    problems = []
    for host, port in found:
        try:
            _handshake(host, port, enrolment.receiver_pin, probe.timeout)
        except PinMismatch as exc:
            return Check("receiver", FAIL,
                         f"{how}: {host}:{port}; TLS handshake ok; pin MISMATCH: the server's "
                         f"key is {exc.seen}, the provisioned pin {enrolment.receiver_pin}",
                         "a rogue or re-keyed receiver; compare with `capture-receiver init`'s "
                         "pin, or re-provision the station")
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"{host}:{port}: {exc}")
            continue
        return Check("receiver", OK, f"{how}: {host}:{port}; TLS handshake ok; pin matches "
                     f"({name!r}, {enrolment.receiver_pin})")
    return Check("receiver", WARN, f"{how}: found, but no TLS connection: "
                 + "; ".join(problems), "is the receiver running and the port open?")


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


#: Checks that need nothing from the state directory.
HARDWARE_CHECKS: tuple[Callable[[Config], Check], ...] = (
    check_camera,
    check_gpio,
    check_barcode,
    lambda cfg: check_hpke(),
)


def run_checks(cfg: Config, probe: ReceiverProbe | None = None, *,
               network: bool = True) -> list[Check]:
    """Every check, in the order shown; those that read the state directory only when this
    user can, and the receiver (unless ``network`` is off) only once enrolment is known."""
    checks = [check(cfg) for check in HARDWARE_CHECKS]
    denied = check_state_access(cfg)
    if denied is not None:
        return [*checks, denied, check_disk(cfg)]
    checks += [check_state_dir(cfg), check_disk(cfg), check_enrolment(cfg), check_web_tls(cfg)]
    if network:
        checks.append(check_receiver(cfg, load_enrolment(StatePaths(cfg.state_dir)), probe))
    return checks


def report(checks: list[Check]) -> dict:
    return {"ok": all(c.status != FAIL for c in checks), "checks": [asdict(c) for c in checks]}


def format_text(checks: list[Check], source: str) -> str:
    lines = [f"config: {source}"]
    for c in checks:
        line = f"{c.status:<4}  {c.name:<10} {c.detail}"
        if c.fix and c.status != OK:
            line += f"\n      {'':<10} -> {c.fix}"
        lines.append(line)
    failed = [c.name for c in checks if c.status == FAIL]
    lines.append("result: " + ("ready" if not failed else "NOT ready: " + ", ".join(failed)))
    return "\n".join(lines)
