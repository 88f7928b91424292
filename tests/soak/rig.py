"""The soak harness's plumbing: the real processes, their disks, and the station's control.

* :class:`ReceiverProcess` runs ``capture-receiver serve`` (loopback, fixed port, mDNS on
  127.0.0.1 under a unique name) and can SIGKILL, stop and start it.
* :class:`StationProcess` runs ``capture-station run`` with the fake camera and mock pins;
  :class:`Control` talks to its control socket (appliance/fakerig.py, capture/fake_control.py):
  scenes, button presses, its wall clock, its status.
* :class:`SmallDisk` is a tmpfs mounted for a state or data directory (root only), which
  :meth:`SmallDisk.fill` fills to the last byte.

Everything runs as child processes of the test, on loopback only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from appliance.sample_config import toml_value
from barcode.commands import Command
from barcode.gs1 import with_check_digit

REPO = Path(__file__).resolve().parents[2]
BUTTON_PIN = 17


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env.pop("NOTIFY_SOCKET", None)
    env.pop("WATCHDOG_USEC", None)
    return env


def cli(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                            text=True, timeout=timeout, env=_env(), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{module} {args[0]} failed: {result.stderr.strip()[-800:]}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(interval)
    return False


class Process:
    """A child process with a log file; SIGKILL, SIGTERM, and counting both."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.kills = 0
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, args: list[str], prefix: tuple[str, ...] = ()) -> None:
        with open(self.log, "ab") as out:
            out.write(f"\n---- start {time.strftime('%H:%M:%S')} ----\n".encode())
            self.proc = subprocess.Popen([*prefix, sys.executable, "-m", *args], stdout=out,
                                         stderr=subprocess.STDOUT, env=_env(),
                                         start_new_session=True)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL to the whole process group (a tracer with it): no clean-up of any kind,
        as on a power cut."""
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self, timeout: float = 30) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ReceiverProcess(Process):
    def __init__(self, data_dir: Path, log: Path) -> None:
        super().__init__("receiver", log)
        self.data_dir = data_dir
        self.port = free_port()
        self.name_ = "soak-" + uuid.uuid4().hex[:10]

    def init(self) -> None:
        cli("practice.cli", "init", "--data-dir", str(self.data_dir), "--name", self.name_)

    def start(self, *, slow_renames: bool = False) -> None:
        """``slow_renames``: every rename returns 0.3 s late (strace fault injection), which
        opens a window after each durable step -- the sealed original's move comes after
        the filing and before the receipt's commit."""
        prefix: tuple[str, ...] = ()
        if slow_renames:
            calls = "rename,renameat,renameat2"
            prefix = ("strace", "-f", "-qq", "-o", os.devnull, "-e", f"trace={calls}",
                      "-e", f"inject={calls}:delay_exit=300000")
        self._spawn(["practice.cli", "serve", "--data-dir", str(self.data_dir), "--host",
                     "127.0.0.1", "--port", str(self.port), "--mdns-interface", "127.0.0.1",
                     "--no-ui", "--reserve-mb", "4"], prefix)
        if not wait_until(self._listening, 30):
            raise RuntimeError(f"the receiver did not start; see {self.log}")

    def _listening(self) -> bool:
        if not self.running:
            raise RuntimeError(f"the receiver exited; see {self.log}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def token(self, out: Path) -> None:
        cli("practice.cli", "token", "--data-dir", str(self.data_dir), "--name", "soak-room",
            "--out", str(out), "--hours", "1")


class StationProcess(Process):
    def __init__(self, config: Path, state_dir: Path, log: Path) -> None:
        super().__init__("station", log)
        self.config = config
        self.state_dir = state_dir
        self.control = Control(state_dir / "fake-control.sock")

    def start(self) -> None:
        self._spawn(["appliance.cli", "run", "--config", str(self.config)])
        if not wait_until(self._serving, 60, interval=0.1):
            raise RuntimeError(f"the station did not start; see {self.log}")

    def _serving(self) -> bool:
        if not self.running:
            raise RuntimeError(f"the station exited; see {self.log}")
        return self.control.status()["state"] in ("idle", "session")


def write_station_config(path: Path, state_dir: Path) -> None:
    values = {
        "station": {"name": "soak-room", "state_dir": str(state_dir), "log_level": "info"},
        "camera": {"backend": "fake", "still_width": 1280, "still_height": 960,
                   "lores_width": 640, "lores_height": 480},
        "gpio": {"pin_factory": "mock", "button_pin": BUTTON_PIN, "hold_seconds": 1.0,
                 "bounce_seconds": 0.02},
        "vault": {"reserve_mb": 16, "review_window_hours": 1.0, "lease_seconds": 30},
        "sync": {"interfaces": ["127.0.0.1"], "retry_min_seconds": 0.5,
                 "retry_max_seconds": 5.0},
        "web": {"enabled": False},
    }
    lines = ["# written by the soak harness (tests/soak)"]
    for section, keys in values.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")


class Control:
    """Client of the station's control socket: one connection per command (the station may
    be killed between any two)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, line: str, timeout: float = 10) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.path))
            sock.sendall(line.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        text = answer.decode().strip()
        if not text.startswith("ok"):
            raise ValueError(f"control {line.split()[0]!r}: {text}")
        return text[2:].strip()

    def status(self) -> dict[str, Any]:
        return json.loads(self.send("status"))

    def show_wristband(self, gsrn: str, encounter: str) -> None:
        symbol = {"symbology": "datamatrix", "content": f"(8018){gsrn}(8019){encounter}",
                  "gs1": True, "module_px": 8, "center": [0.7, 0.6]}
        self.send("scene symbols " + json.dumps([symbol]))

    def show_consent(self, level: str = "teaching") -> None:
        symbol = {"symbology": "qrcode", "content": Command("consent", level).payload,
                  "module_px": 8, "center": [0.7, 0.55]}
        self.send("scene symbols " + json.dumps([symbol]))

    def empty(self) -> None:
        self.send("scene empty")

    def press(self) -> None:
        self.send("press 0.1")

    def clock(self, offset: float) -> None:
        self.send(f"clock {offset}")


def new_patient(n: int) -> tuple[str, str]:
    """A fictitious GSRN (GS1 example prefix 795) and encounter number, unique per ``n``."""
    return with_check_digit(f"7951234{n:010d}"), f"{n % 10_000_000_000:010d}"


class SmallDisk:
    """A tmpfs at ``mountpoint`` (root only); :meth:`fill` takes every free byte."""

    def __init__(self, mountpoint: Path, size_mb: int) -> None:
        self.mountpoint = mountpoint
        self.size_mb = size_mb
        self.mounted = False
        self.filler = mountpoint / ".soak-filler"

    @staticmethod
    def available() -> str:
        """'' when tmpfs can be mounted here, else why not."""
        if os.geteuid() != 0:
            return "not root: the disk-full faults need a tmpfs to fill (run as root)"
        return ""

    def mount(self) -> None:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                 f"size={self.size_mb}m,mode=0700", "tmpfs",
                                 str(self.mountpoint)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"cannot mount tmpfs: {result.stderr.strip()}")
        self.mounted = True

    def fill(self) -> None:
        """Write until ENOSPC, in smaller and smaller pieces, down to the last byte."""
        with open(self.filler, "ab", buffering=0) as out:
            for size in (1 << 20, 65536, 4096, 1):
                block = b"\0" * size
                try:
                    while True:
                        out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            with contextlib.suppress(OSError):
                subprocess.run(["umount", "-l", str(self.mountpoint)], check=False,
                               capture_output=True)
            self.mounted = False
