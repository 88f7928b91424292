"""The station never wedges: a failure in one thread cannot leave the workflow stuck, and the
watchdog is fed only while every thread that serves a nurse is alive and making progress.

The regression: a disk full to the last byte made ``store_capture`` fail and then the audit
line about the refusal fail too (ENOSPC); that killed the capture thread, and every later press
left the station "capturing" while the other threads still fed the watchdog.
"""

import contextlib
import errno
import shutil
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.paths import StatePaths
from appliance.station import Station, StationInfo
from appliance.supervision import Heartbeats
from appliance.vault import Vault
from appliance.vault.errors import DiskFullError
from appliance.workflow import Rules, State, Workflow
from capture.controls import CaptureButton, StatusLight
from capture.fake import FakeCamera
from sync.audit import verify as verify_audit_log
from tests.appliance.test_station import MemoryStore, ScriptedReader, identify, press, wait_for
from tests.appliance.vault.conftest import enrol, practice, small_disk  # noqa: F401 - fixtures


class FullDiskAudit:
    """An audit sink on a disk with no block left: every record raises ENOSPC while full."""

    def __init__(self):
        self.full = False
        self.events = []
        self.refused = 0

    def record(self, event, **fields):
        if self.full:
            self.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        self.events.append((event, fields))


class Recorder:
    """A notifier that counts watchdog pings (and keeps the last status)."""

    watchdog_seconds = None

    def __init__(self):
        self.pings = 0
        self.last_status = ""

    def ready(self, status=""):
        return True

    def watchdog(self):
        self.pings += 1
        return True

    def stopping(self):
        return True

    def status(self, text):
        self.last_status = text
        return True


@pytest.fixture
def hardware():
    factory = MockFactory()
    button = CaptureButton(17, bounce_seconds=0.01, hold_seconds=0.5, pin_factory=factory)
    light = StatusLight(pin=27, pin_factory=factory)
    yield factory, button, light
    button.close()
    light.close()
    factory.reset()


def make_station(hardware, *, store, audit, notifier=None, health=None, **extra):
    _factory, button, light = hardware
    camera = FakeCamera(still_size=(320, 240), lores_size=(160, 120))
    reader = ScriptedReader()
    station = Station(workflow=Workflow(Rules()), camera=camera, reader=reader, store=store,
                      audit=audit, info=StationInfo("st-1", "room 1"), button=button,
                      light=light, scan_rate_hz=50, notifier=notifier, health=health, **extra)
    return station, reader


@contextlib.contextmanager
def running(hardware, *, store=None, audit=None, **extra):
    """A started station (stopped afterwards) with its reader, store and audit sink."""
    store = store if store is not None else MemoryStore()
    audit = audit if audit is not None else FullDiskAudit()
    station, reader = make_station(hardware, store=store, audit=audit, **extra)
    station.start()
    try:
        yield station, reader, store, audit
    finally:
        station.stop(timeout=5)


def test_a_refusal_whose_audit_line_hits_enospc_does_not_wedge_the_station(hardware):
    with running(hardware) as (station, reader, store, audit):
        identify(station, reader)
        audit.full = True
        store.error = DiskFullError("disk full")
        press(hardware[0])
        assert wait_for(lambda: audit.refused >= 1)
        assert wait_for(lambda: station.workflow.state is State.SESSION)
        assert station.light.pattern.name == "disk_full"
        assert all(t.is_alive() for t in station._threads)
        assert station.is_alive()
        # space is freed: the next press captures
        audit.full = False
        store.error = None
        assert wait_for(lambda: station.workflow.disk_ok, timeout=3)
        press(hardware[0])
        assert wait_for(lambda: len(store.items) == 1)
        assert wait_for(lambda: ("captured", {"capture": "cap-1",
                                              "session": station.workflow.session.session_id})
                        in audit.events)


def test_a_bug_after_the_store_still_answers_the_workflow(hardware):
    with running(hardware) as (station, reader, _store, audit):
        identify(station, reader)
        station._capture = lambda request: 1 / 0  # a programming error in the capture path
        press(hardware[0])
        assert wait_for(lambda: ("capture_refused", {"reason": "storage_fault"})
                        in audit.events)
        assert station.workflow.state is State.SESSION
        assert station.is_alive()


@pytest.mark.root
def test_disk_full_to_the_last_byte_while_the_audit_log_needs_a_block(
        hardware, small_disk, practice):  # noqa: F811 - the vault tests' fixtures
    """The real thing: a 3 MiB tmpfs filled to its last byte, the real vault and audit log."""
    paths = StatePaths(small_disk / "state")
    enrol(paths, practice)
    vault = Vault(paths, reserve_bytes=0)
    filler = small_disk / "filler"
    try:
        with running(hardware, store=vault, audit=vault.audit,
                     health=lambda: (True, shutil.disk_usage(small_disk).free > 0)) as (
                         station, reader, _store, _audit):
            identify(station, reader)
            with open(filler, "wb", buffering=0) as out:
                for size in (65536, 4096, 1):
                    try:
                        while True:
                            out.write(b"\0" * size)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
            assert shutil.disk_usage(small_disk).free == 0
            with pytest.raises(OSError):  # the audit log's last block is full as well
                for _ in range(1000):
                    vault.audit.record("t")
            press(hardware[0])
            assert wait_for(lambda: station.light.pattern.name == "disk_full")
            assert station.workflow.state is not State.CAPTURING
            assert all(t.is_alive() for t in station._threads)
            assert vault.pending_count() == 0
            filler.unlink()
            assert wait_for(lambda: station.workflow.disk_ok, timeout=3)
            press(hardware[0])
            assert wait_for(lambda: vault.pending_count() == 1)
            assert wait_for(lambda: station.light.pattern.name == "captured")
            assert station.workflow.state is State.SESSION
    finally:
        vault.close()
    assert verify_audit_log(paths.audit_log).ok


# -- supervision ------------------------------------------------------------------------------

def test_heartbeats_name_dead_and_silent_threads():
    now = [0.0]
    beats = Heartbeats(clock=lambda: now[0])
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    beats.register("scan", 10)
    beats.register("capture", 60)
    assert beats.stalled() == []
    now[0] = 11
    assert beats.stalled() == ["scan"]
    beats.beat("scan")
    assert beats.stalled() == []
    beats.attach("capture", done)  # the thread behind "capture" has ended
    assert beats.stalled() == ["capture"]


def test_the_watchdog_is_fed_only_while_every_thread_serves(hardware):
    notifier = Recorder()
    with running(hardware, notifier=notifier) as (station, _reader, _store, _audit):
        assert wait_for(lambda: notifier.pings >= 1, timeout=3)
        # the capture thread dies (as it did on the full disk)
        station._captures.put(None)
        assert wait_for(lambda: not station._threads[1].is_alive())
        assert wait_for(lambda: station.stalled() == ["capture"])
        pings = notifier.pings
        time.sleep(2.2)  # two ticks
        assert notifier.pings == pings  # not fed: systemd will restart the station
        assert notifier.last_status == "stalled: capture"


def test_a_capture_stuck_in_the_store_stops_the_watchdog(hardware):
    notifier = Recorder()
    release = threading.Event()
    store = MemoryStore()
    store.store_capture = lambda jpeg, meta, preview=None: release.wait(30) and "cap-x"
    try:
        with running(hardware, store=store, notifier=notifier, capture_stall_seconds=1.0) as (
                station, reader, _store, _audit):
            identify(station, reader)
            press(hardware[0])
            assert wait_for(lambda: station.workflow.state is State.CAPTURING)
            assert wait_for(lambda: station.stalled() == ["capture"], timeout=4)
            pings = notifier.pings
            time.sleep(1.2)
            assert notifier.pings == pings
            release.set()  # the store answers after all: the thread serves again
            assert wait_for(lambda: station.workflow.state is State.SESSION)
            assert wait_for(lambda: notifier.pings > pings, timeout=3)
    finally:
        release.set()


def test_a_hung_tick_stops_the_feeding_by_itself(hardware):
    """The tick thread is the feeder: stuck in a health check, it feeds nothing."""
    notifier = Recorder()
    release = threading.Event()
    calls = []

    def health():
        calls.append(1)
        if len(calls) > 2:
            release.wait(30)
        return True, True

    try:
        with running(hardware, notifier=notifier, health=health):
            assert wait_for(lambda: len(calls) > 2, timeout=4)
            pings = notifier.pings
            time.sleep(1.5)
            assert notifier.pings == pings
            release.set()
    finally:
        release.set()


def test_a_failing_led_does_not_stop_the_capture(hardware, monkeypatch):
    with running(hardware) as (station, reader, store, _audit):
        identify(station, reader)

        def broken(pattern):
            raise OSError(errno.EIO, "pin gone")

        monkeypatch.setattr(station.light, "show", broken)
        press(hardware[0])
        assert wait_for(lambda: len(store.items) == 1)
        assert wait_for(lambda: station.workflow.state is State.SESSION)
        monkeypatch.undo()


def test_a_full_disk_at_start_up_does_not_stop_the_station_starting(hardware):
    audit = FullDiskAudit()
    audit.full = True
    with running(hardware, audit=audit) as (station, _reader, _store, _audit):
        assert station.is_alive()
        assert audit.refused == 1
