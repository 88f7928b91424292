"""The soak harness: real station and receiver processes, faults, and a count of what survived.

A nurse cycle (wristband, consent card, subject, press) runs through the station's control
socket; a capture is *acknowledged* when the station reports it stored (the "captured"
signal). Between cycles the harness injects faults:

* ``kill-station`` / ``kill-receiver``: SIGKILL at a random moment of a cycle;
* ``kill-station-sealing``: SIGKILL 0-250 ms after the press (while the still is sealed);
* ``kill-station-after-ack``: SIGKILL right after the acknowledgement;
* ``kill-receiver-mid-upload``: SIGKILL while an upload streams into ``incoming/``;
* ``kill-receiver-after-filing``: SIGKILL as soon as a sealed original lands, before its
  receipt is committed (hits are counted when the row is indeed missing);
* ``receiver-outage``: the receiver stopped for a while (captures go on), then back; the
  time to drain the backlog is measured;
* ``station-disk-full`` / ``receiver-disk-full``: the tmpfs filled to the last byte (root
  only; skipped and said so otherwise), then freed (the drain after the receiver's disk is
  freed is measured too);
* ``clock-jump``: the station's wall clock stepped back (or forward again) by an hour.

After every fault the station must serve again: the next cycle must be acknowledged within
:data:`SERVE_TIMEOUT` seconds, or the station counts as *wedged* (and is then killed and
restarted, as systemd would, so the run goes on). At the end every acknowledged capture is
compared with what the receiver filed: lost, duplicated, half-written, integrity (the filed
photo decodes, its sidecar names the patient the harness showed, the receiver's digest is
the station's) and both audit chains and databases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import shutil
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from sync.audit import verify as verify_audit
from sync.durable import is_temp_name

from .rig import (
    ReceiverProcess,
    SmallDisk,
    StationProcess,
    cli,
    new_patient,
    wait_until,
    write_station_config,
)

#: Seconds a serving station needs for one cycle, at most, on a loaded 2-core machine.
SERVE_TIMEOUT = 60.0
#: Seconds one nurse cycle may take before the nurse starts again (a new wristband).
CYCLE_TIMEOUT = 20.0
#: Seconds the backlog may take to drain once the receiver is back.
DRAIN_TIMEOUT = 120.0
REFUSALS = {"disk_full", "camera_fault", "storage_fault", "not_enrolled"}
TARGETED = ("kill-receiver-mid-upload", "kill-receiver-after-filing")
FAULTS = ("kill-station", "kill-receiver", "kill-station-sealing", "kill-station-after-ack",
          "kill-receiver-mid-upload", "kill-receiver-after-filing", "receiver-outage",
          "station-disk-full", "receiver-disk-full", "clock-jump")


@dataclass
class Report:
    date: str
    seconds: float = 0.0
    seed: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    targeted_hits: dict[str, int] = field(default_factory=dict)
    station_kills: int = 0
    receiver_kills: int = 0
    cycles: int = 0
    acknowledged: int = 0
    refused: int = 0
    lost: int = 0
    duplicated: int = 0
    half_written: int = 0
    temp_files_in_inbox: int = 0
    integrity_errors: int = 0
    wedged: int = 0
    watchdog_restarts: int = 0
    drain_seconds: list[float] = field(default_factory=list)
    station_audit_ok: bool = False
    receiver_audit_ok: bool = False
    databases_ok: bool = False
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


class Soak:
    """One run in ``workdir``: :meth:`run` for ``seconds``, then :meth:`verify`."""

    def __init__(self, workdir: Path, *, seconds: float, seed: int = 19,
                 faults: tuple[str, ...] = FAULTS) -> None:
        self.workdir = workdir
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.report = Report(date=dt.date.today().isoformat(), seed=seed)
        self.faults = list(faults)
        self.patients = 0
        #: capture id -> the GSRN shown when it was taken (every acknowledged capture)
        self.acked: dict[str, str] = {}
        self.clock_offset = 0.0
        self.station_disk = SmallDisk(workdir / "st", 384)
        self.receiver_disk = SmallDisk(workdir / "rx", 768)
        why = SmallDisk.available()
        self.disks = not why
        if why:
            self.report.skipped.append(f"station-disk-full, receiver-disk-full: {why}")
            self.faults = [f for f in self.faults if not f.endswith("disk-full")]
        self.strace = shutil.which("strace") is not None
        if not self.strace:
            self.report.skipped.append("kill-receiver-after-filing runs without its window "
                                       "(strace not installed): hits are rare")
        self.receiver = ReceiverProcess(workdir / "rx" / "data", workdir / "receiver.log")
        config = workdir / "station.toml"
        self.station = StationProcess(config, workdir / "st" / "state", workdir / "station.log")

    # -- set-up ---------------------------------------------------------------------------
    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.disks:
            self.station_disk.mount()
            self.receiver_disk.mount()
        self.receiver.init()
        self.receiver.start()
        write_station_config(self.station.config, self.station.state_dir)
        token = self.workdir / "provision.toml"
        self.receiver.token(token)
        cli("appliance.cli", "enrol", "--config", str(self.station.config), "--provision",
            str(token), "--address", f"127.0.0.1:{self.receiver.port}")
        self.station.start()

    def teardown(self) -> None:
        self.station.stop()
        self.receiver.stop()
        self.station_disk.free()
        self.receiver_disk.free()

    def unmount(self) -> None:
        self.station_disk.unmount()
        self.receiver_disk.unmount()

    # -- a nurse ------------------------------------------------------------------------------
    def cycle(self, *, timeout: float = SERVE_TIMEOUT, on_press: Any = None) -> str:
        """Wristband, consent, subject, press: ``acked``, ``refused`` or ``timeout``."""
        control = self.station.control
        self.report.cycles += 1
        self.patients += 1
        gsrn, encounter = new_patient(self.patients)
        deadline = time.monotonic() + timeout
        previous = control.status()["session"]
        control.show_wristband(gsrn, encounter)
        if not wait_until(lambda: control.status()["session"] not in (None, previous),
                          max(1, deadline - time.monotonic())):
            return "timeout"
        control.show_consent()
        if not wait_until(lambda: control.status()["consent"],
                          max(1, deadline - time.monotonic())):
            return "timeout"
        control.empty()
        before = len(control.status()["captured"])
        control.press()
        if on_press is not None:
            on_press()
            return "interrupted"

        while time.monotonic() < deadline:
            status = control.status()
            if len(status["captured"]) > before:
                self.acked[status["captured"][-1]] = gsrn
                self.report.acknowledged += 1
                return "acked"
            if status["signal"] in REFUSALS and status["state"] != "capturing":
                self.report.refused += 1
                return "refused"
            time.sleep(0.1)
        return "timeout"

    def serves(self, what: str) -> None:
        """After a fault: within :data:`SERVE_TIMEOUT` a cycle must be acknowledged (a nurse
        tries again after a refusal, e.g. while the station notices freed space). If not, and
        the station reports a stalled thread, its watchdog is withheld and systemd would
        restart it (``watchdog_restarts``); if it reports none, nothing would ever restart
        it: **wedged**. Either way it is then killed and restarted, so the run goes on."""
        deadline = time.monotonic() + SERVE_TIMEOUT
        outcome = ""
        while time.monotonic() < deadline:
            try:  # one cycle at most CYCLE_TIMEOUT: an unread band costs one try, not all
                outcome = self.cycle(timeout=min(CYCLE_TIMEOUT, deadline - time.monotonic()))
            except (OSError, ValueError, RuntimeError) as exc:
                outcome = f"error {exc}"
                time.sleep(0.5)
            if outcome == "acked":
                return
            time.sleep(0.5)
        try:
            seen = self.station.control.status()
        except (OSError, ValueError) as exc:
            seen = {"error": str(exc), "stalled": []}
        if seen.get("stalled"):
            self.report.watchdog_restarts += 1
        else:
            self.report.wedged += 1
        self.report.problems.append(f"after {what}: station did not serve ({outcome}); "
                                    f"status {json.dumps(seen)[:400]}")
        self._restart_station(kill=True)

    # -- faults -------------------------------------------------------------------------------
    def _restart_station(self, *, kill: bool) -> None:
        if kill:
            self.station.kill()
        self.station.start()

    def _restart_receiver(self) -> None:
        if not self.receiver.running:
            self.receiver.start()

    def _count(self, fault: str, hit: bool | None = None) -> None:
        self.report.faults[fault] = self.report.faults.get(fault, 0) + 1
        if hit:
            self.report.targeted_hits[fault] = self.report.targeted_hits.get(fault, 0) + 1

    def fault(self, name: str) -> None:
        getattr(self, "f_" + name.replace("-", "_"))()
        if name not in TARGETED:  # those count themselves, with whether they hit
            self._count(name)
        self.serves(name)

    def f_kill_station(self) -> None:
        timer = threading.Timer(self.rng.uniform(0.2, 3.0), self.station.kill)
        timer.start()
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self.cycle(timeout=5)
        timer.join()
        if not self.station.running:
            self._restart_station(kill=False)

    def f_kill_receiver(self) -> None:
        timer = threading.Timer(self.rng.uniform(0.0, 3.0), self.receiver.kill)
        timer.start()
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self.cycle(timeout=10)
        timer.join()
        self._restart_receiver()

    def f_kill_station_sealing(self) -> None:
        def kill_soon() -> None:
            time.sleep(self.rng.uniform(0.0, 0.25))
            self.station.kill()

        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self.cycle(on_press=kill_soon)
        self._restart_station(kill=True)

    def f_kill_station_after_ack(self) -> None:
        self.cycle()
        self._restart_station(kill=True)

    def _backlog(self, n: int) -> None:
        """``n`` captures taken while the receiver is away."""
        self.receiver.stop()
        for _ in range(n):
            self.cycle()

    def f_kill_receiver_mid_upload(self) -> None:
        self._backlog(3)
        incoming = self.receiver.data_dir / "incoming"
        self.receiver.start()
        hit = wait_until(lambda: any(p.name.endswith(".part") for p in incoming.iterdir()),
                         10, interval=0.001)
        self.receiver.kill()
        self._count("kill-receiver-mid-upload", hit)
        self._restart_receiver()

    def f_kill_receiver_after_filing(self) -> None:
        self._backlog(2)
        before = self._sealed_count()
        self.receiver.start(slow_renames=self.strace)
        wait_until(lambda: self._sealed_count() > before, 20, interval=0.002)
        self.receiver.kill()
        hit = self._sealed_count() > self._receiver_rows()  # filed, no receipt committed
        self._count("kill-receiver-after-filing", hit)
        self._restart_receiver()

    def _sealed_count(self) -> int:
        root = self.receiver.data_dir / "sealed" / "capture"
        return sum(1 for _ in root.rglob("*.sealed")) if root.exists() else 0

    def _receiver_rows(self) -> int:
        with contextlib.closing(sqlite3.connect(
                f"file:{self.receiver.data_dir / 'receiver.db'}?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM items WHERE kind = 'capture'").fetchone()[0]

    def _drain_time(self, since: float) -> None:
        if wait_until(lambda: self.station.control.status()["pending"] == 0, DRAIN_TIMEOUT,
                      interval=0.1):
            self.report.drain_seconds.append(round(time.monotonic() - since, 1))
        else:
            self.report.problems.append("backlog did not drain in time")

    def f_receiver_outage(self) -> None:
        self._backlog(self.rng.randint(2, 4))
        time.sleep(self.rng.uniform(1, 5))
        self.receiver.start()
        self._drain_time(time.monotonic())

    def f_station_disk_full(self) -> None:
        self.station_disk.fill()
        outcome = self.cycle(timeout=20)
        if outcome == "acked":  # stored in the last free bytes before the tick noticed
            self.report.problems.append("a capture was acknowledged on a full disk")
        status = self.station.control.status()
        if status["stalled"]:
            self.report.problems.append(f"threads stalled on a full disk: {status['stalled']}")
        self.station_disk.free()

    def f_receiver_disk_full(self) -> None:
        self.receiver_disk.fill()
        for _ in range(2):
            self.cycle()
        time.sleep(2)
        freed = time.monotonic()
        self.receiver_disk.free()
        self._drain_time(freed)

    def f_clock_jump(self) -> None:
        self.clock_offset = -3600.0 if self.clock_offset == 0 else 0.0
        self._backlog(2)  # items retried just before the step...
        self.station.control.clock(self.clock_offset)
        self.receiver.start()
        self._drain_time(time.monotonic())  # ...are delivered within the normal backoff

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        self.setup()
        try:
            order = list(self.faults)  # every fault once, then at random
            while True:
                elapsed = time.monotonic() - started
                if elapsed > self.seconds and not order:
                    break
                name = order.pop(0) if order else self.rng.choice(self.faults)
                self.fault(name)
                if self.rng.random() < 0.5:
                    self.cycle()
            self._restart_receiver()
            self._drain_time(time.monotonic())
        finally:
            self.report.station_kills = self.station.kills
            self.report.receiver_kills = self.receiver.kills
            self.teardown()
        self.report.seconds = round(time.monotonic() - started, 1)
        self.verify()
        return self.report

    # -- what survived ------------------------------------------------------------------------
    def verify(self) -> None:
        report = self.report
        inbox = self.receiver.data_dir / "inbox"
        photos: dict[str, list[Path]] = {}
        for path in inbox.rglob("*"):
            if is_temp_name(path.name):
                report.temp_files_in_inbox += 1
                continue
            if path.suffix == ".jpg" and not path.name.endswith(".thumb.jpg"):
                photos.setdefault(path.stem.split("_", 1)[-1], []).append(path)
        station_sha = self._station_digests()
        receiver_sha = self._receiver_digests()
        for capture_id, gsrn in self.acked.items():
            filed = photos.get(capture_id, [])
            if not filed or capture_id not in receiver_sha:
                report.lost += 1
                report.problems.append(f"lost: {capture_id}")
                continue
            if len(filed) > 1:
                report.duplicated += 1
            for photo in filed:
                if not self._whole(photo, gsrn):
                    report.half_written += 1
            if station_sha.get(capture_id) != receiver_sha[capture_id]:
                report.integrity_errors += 1
                report.problems.append(f"digest differs: {capture_id}")
        station_state = self.station.state_dir
        report.station_audit_ok = verify_audit(station_state / "audit.log").ok
        practice_log = self.receiver.data_dir / "practice-audit.log"
        report.receiver_audit_ok = not practice_log.exists() or verify_audit(practice_log).ok
        report.databases_ok = all(self._integrity(db) for db in (
            station_state / "station.db", self.receiver.data_dir / "receiver.db"))

    def _whole(self, photo: Path, gsrn: str) -> bool:
        try:
            with Image.open(photo) as image:
                image.load()
            sidecar = json.loads(photo.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return False
        return sidecar.get("patient_id") == gsrn

    def _station_digests(self) -> dict[str, str]:
        db = self.station.state_dir / "station.db"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return dict(conn.execute(
                "SELECT item_id, sha256 FROM items WHERE kind = 'capture'").fetchall())

    def _receiver_digests(self) -> dict[str, str]:
        db = self.receiver.data_dir / "receiver.db"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return dict(conn.execute(
                "SELECT item_id, sha256 FROM items WHERE kind = 'capture'").fetchall())

    @staticmethod
    def _integrity(db: Path) -> bool:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
