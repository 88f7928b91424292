"""The station runtime with real hardware seams: FakeCamera, gpiozero MockFactory pins.

The reader and store here are small in-test collaborators so that the runtime's own job
(threads, signals, capture queue, SIGTERM semantics) is what is tested; the end-to-end test
with the real reader, vault and receiver lives in test_end_to_end.py.
"""

import io
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

from appliance.enrolment import NotEnrolledError
from appliance.station import Station, StationInfo, refusal_for
from appliance.supervision import Heartbeats
from appliance.vault.errors import DiskFullError
from appliance.workflow import CardSeen, PatientSeen, Refusal, Rules, Workflow
from barcode.backends import FrameError
from barcode.errors import BarcodeConfigError
from barcode.identity import Identity
from capture.camera import CameraError, Still
from capture.controls import CaptureButton, StatusLight
from capture.fake import FakeCamera

PATIENT = Identity("patient", "795123450000000013", "GS1", provenance="scanned-gs1")


class ScriptedReader:
    """Emits the queued events on the next frame, like a reader that just recognised them."""

    def __init__(self):
        self.pending = []
        self.frames = 0
        self.resets = 0
        self.full_res = None
        self.error = None  # raised by the next feed

    def feed(self, luma, *, full_res=None):
        self.frames += 1
        self.full_res = full_res
        if self.error is not None:
            raise self.error
        events, self.pending = self.pending, []
        return events

    def reset(self):
        self.resets += 1


class MemoryStore:
    def __init__(self, delay=0.0, error=None):
        self.items = []
        self.previews = []
        self.delay = delay
        self.error = error

    def store_capture(self, jpeg, metadata, *, preview=None):
        time.sleep(self.delay)
        if self.error:
            raise self.error
        self.items.append((jpeg, metadata))
        self.previews.append(preview)
        return f"cap-{len(self.items)}"


class Audit:
    def __init__(self):
        self.events = []

    def record(self, event, **fields):
        self.events.append((event, fields))


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def rig():
    factory = MockFactory()
    camera = FakeCamera(still_size=(640, 480), lores_size=(320, 240))
    button = CaptureButton(17, bounce_seconds=0.01, hold_seconds=0.5, pin_factory=factory)
    light = StatusLight(pin=27, pin_factory=factory)
    reader, store, audit = ScriptedReader(), MemoryStore(), Audit()
    station = Station(workflow=Workflow(Rules()), camera=camera, reader=reader, store=store,
                      audit=audit, info=StationInfo("st-1", "room 1"), button=button,
                      light=light, scan_rate_hz=50)
    yield station, factory, reader, store, audit
    station.stop(timeout=5)
    button.close()
    light.close()
    factory.reset()


def press(factory, seconds=0.03):
    pin = factory.pin(17)
    pin.drive_low()
    time.sleep(seconds)
    pin.drive_high()


def identify(station, reader):
    reader.pending = [PatientSeen(PATIENT), CardSeen("consent", "teaching")]
    assert wait_for(lambda: station.workflow.steady_signal().name == "ready")


def test_button_press_to_sealed_capture_with_metadata(rig):
    station, factory, reader, store, audit = rig
    station.start()
    assert wait_for(lambda: reader.frames > 2)
    identify(station, reader)
    press(factory)
    assert wait_for(lambda: len(store.items) == 1)
    jpeg, meta = store.items[0]
    assert jpeg[:2] == b"\xff\xd8"
    assert meta["patient_id"] == PATIENT.id
    assert meta["station_id"] == "st-1"
    assert meta["consent"] == "teaching"
    assert "captured_at" in meta and "clock_synced" in meta
    assert wait_for(lambda: ("captured", {"capture": "cap-1",
                                          "session": station.workflow.session.session_id})
                    in audit.events)


def test_the_camera_preview_goes_to_the_store_with_its_still(rig):
    station, factory, reader, store, _audit = rig
    station.start()
    identify(station, reader)
    press(factory)
    assert wait_for(lambda: len(store.items) == 1)
    with Image.open(io.BytesIO(store.previews[0])) as preview:
        assert preview.format == "JPEG"
        assert max(preview.size) <= 320


def test_a_camera_without_preview_leaves_it_to_the_store(rig, monkeypatch):
    station, factory, reader, store, _audit = rig
    camera = station.camera
    monkeypatch.setattr(camera, "capture_still", lambda: Still(camera.capture_jpeg()))
    station.start()
    identify(station, reader)
    press(factory)
    assert wait_for(lambda: len(store.items) == 1)
    assert store.items[0][0][:2] == b"\xff\xd8"
    assert store.previews == [None]


def test_press_without_patient_shows_no_patient_signal(rig):
    station, factory, _reader, store, _audit = rig
    station.start()
    press(factory)
    assert wait_for(lambda: station.light.pattern.name == "no_patient")
    assert store.items == []
    # the transient signal gives way to the steady idle signal
    assert wait_for(lambda: station.light.pattern.name == "idle", timeout=3)


def test_hold_ends_session(rig):
    station, factory, reader, store, _audit = rig
    station.start()
    identify(station, reader)
    press(factory, seconds=0.7)
    assert wait_for(lambda: station.workflow.session is None)
    assert store.items == []


def test_camera_fault_is_signalled(rig):
    station, factory, reader, store, _audit = rig
    station.start()
    identify(station, reader)
    station.camera.fail = OSError("sensor gone")
    press(factory)
    assert wait_for(lambda: station.light.pattern.name == "camera_fault")
    assert store.items == []


def test_stop_finishes_capture_in_flight(rig):
    station, factory, reader, store, audit = rig
    store.delay = 0.5
    station.start()
    identify(station, reader)
    press(factory)
    assert wait_for(lambda: station.workflow.state.value == "capturing")
    stopper = threading.Thread(target=station.stop)
    stopper.start()
    stopper.join(10)
    assert len(store.items) == 1  # the capture in flight completed before exit
    assert audit.events[-1][0] == "station_stopped"


@pytest.mark.parametrize(("exc", "refusal"), [
    (CameraError("x"), Refusal.CAMERA_FAULT),
    (NotEnrolledError(), Refusal.NOT_ENROLLED),
    (OSError(28, "No space left on device"), Refusal.DISK_FULL),
    (DiskFullError(), Refusal.DISK_FULL),
    (ValueError("boom"), Refusal.STORAGE_FAULT),
    # Only the vault's own class counts: a look-alike name is a storage fault.
    (type("DiskFullError", (Exception,), {})(), Refusal.STORAGE_FAULT),
])
def test_refusal_mapping(exc, refusal):
    assert refusal_for(exc) is refusal


def test_hung_camera_withholds_the_watchdog(rig, monkeypatch):
    station, _factory, _reader, _store, _audit = rig
    release = threading.Event()
    later = [0.0]
    station.heartbeats = Heartbeats(clock=lambda: time.monotonic() + later[0])
    station.start()
    assert station.is_alive()
    monkeypatch.setattr(station.camera, "preview_luma", lambda: release.wait(30))
    time.sleep(0.2)  # the scan loop is now stuck inside the camera
    later[0] = 60  # ...and has been for a minute (the other threads beat on)
    assert wait_for(lambda: station.stalled() == ["scan"])
    assert not station.is_alive()
    release.set()
    assert wait_for(station.is_alive)  # a recovered loop feeds the watchdog again


def test_the_reader_gets_the_cameras_full_resolution_crop(rig):
    station, _factory, reader, _store, _audit = rig
    station.start()
    assert wait_for(lambda: reader.full_res is not None)
    crop = reader.full_res((10, 10, 50, 40))  # preview box; the still is twice the preview
    assert crop.shape == (60, 80)
    assert reader.full_res((400, 300, 500, 400)) is None  # outside the frame


def test_a_failing_full_resolution_crop_leaves_the_preview_alone(rig, monkeypatch):
    station, _factory, reader, _store, _audit = rig

    def broken(box):
        raise CameraError("main stream stalled")

    monkeypatch.setattr(station.camera, "main_luma_crop", broken)
    station.start()
    assert wait_for(lambda: reader.full_res is not None)
    assert reader.full_res((10, 10, 50, 40)) is None
    frames = reader.frames
    assert wait_for(lambda: reader.frames > frames + 2)
    assert station.workflow.camera_ok


@pytest.mark.parametrize("error", [BarcodeConfigError("no symbologies to read"),
                                   FrameError("expected a 2-D uint8 luma plane"),
                                   RuntimeError("a bug in the reader")])
def test_a_barcode_problem_is_never_shown_as_a_camera_fault(rig, error):
    station, _factory, reader, _store, _audit = rig
    reader.error = error
    station.start()
    frames = reader.frames
    assert wait_for(lambda: reader.frames > frames + 3)  # the loop keeps scanning
    time.sleep(1.2)  # past a health tick
    assert station.workflow.camera_ok
    assert station.light.pattern.name != "camera_fault"
    reader.error = None
    identify(station, reader)  # and reads again once the reader recovers


def test_the_reader_forgets_its_frames_when_the_camera_comes_back(rig):
    station, _factory, reader, _store, _audit = rig
    station.start()
    assert reader.resets == 1  # on start
    assert wait_for(lambda: reader.frames > 2)
    station.camera.fail = OSError("cable")
    assert wait_for(lambda: not station._camera_ok)
    assert reader.resets == 1
    station.camera.fail = None
    assert wait_for(lambda: reader.resets == 2, timeout=5)
    assert wait_for(lambda: station._camera_ok)
