"""Document mode in the running station: real fake-camera page scenes through the page
pipeline on the capture thread, pages kept in memory, one PDF handed to the store."""

import io
from datetime import datetime

import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

from appliance.station import Station, StationInfo
from appliance.workflow import Click, DocumentAction, PatientSeen, Rules, Workflow
from capture.controls import CaptureButton, StatusLight
from capture.fake import FakeCamera, Scene
from capture.fake_page import PageScene
from documents import page_count
from tests.appliance.test_station import PATIENT, Audit, MemoryStore, ScriptedReader, wait_for

PAGE = Scene(page=PageScene(tilt=20.0, rotation=6.0))
SECOND_PAGE = Scene(page=PageScene(tilt=12.0, rotation=-8.0, offset=(0.03, 0.0)), seed=11)
NO_PAGE = Scene()


class DocumentStore(MemoryStore):
    def __init__(self, error=None):
        super().__init__()
        self.documents = []
        self.document_error = error

    def store_document(self, pdf, metadata, *, preview):
        if self.document_error:
            raise self.document_error
        self.documents.append((pdf, metadata, preview))
        return f"0190f0c8-0000-7000-8000-00000000000{len(self.documents)}"


@pytest.fixture
def rig():
    factory = MockFactory()
    camera = FakeCamera(PAGE, still_size=(2028, 1520), lores_size=(320, 240))
    button = CaptureButton(17, bounce_seconds=0.01, hold_seconds=0.5, pin_factory=factory)
    light = StatusLight(pin=27, pin_factory=factory)
    reader, store, audit = ScriptedReader(), DocumentStore(), Audit()
    station = Station(workflow=Workflow(Rules(consent_required=False)), camera=camera,
                      reader=reader, store=store, audit=audit,
                      info=StationInfo("st-1", "room 1"), button=button, light=light,
                      scan_rate_hz=50)
    station.start()
    reader.pending = [PatientSeen(PATIENT)]
    assert wait_for(lambda: station.workflow.session is not None)
    yield station, camera, store, audit
    station.stop(timeout=10)
    button.close()
    light.close()
    factory.reset()


def events(audit, name):
    return [fields for event, fields in audit.events if event == name]


def take_page(station, audit, name="page_added"):
    before = len(events(audit, name))
    station.dispatch(Click())
    assert wait_for(lambda: len(events(audit, name)) > before, 20)


def test_two_pages_become_one_sealed_pdf_with_the_session_metadata(rig):
    station, camera, store, audit = rig
    station.dispatch(DocumentAction("referral"))
    document = station.workflow.session.document.document_id
    take_page(station, audit)
    camera.set_scene(SECOND_PAGE)
    take_page(station, audit)
    assert station.desk.page_count(document) == 2
    station.dispatch(DocumentAction("end"))
    assert wait_for(lambda: store.documents, 20)
    pdf, meta, preview = store.documents[0]
    assert page_count(pdf) == 2
    assert meta["document_type"] == "referral" and meta["pages"] == 2
    assert meta["patient_id"] == PATIENT.id and meta["station_id"] == "st-1"
    assert meta["station_name"] == "room 1" and "clock_synced" in meta
    assert datetime.fromisoformat(meta["captured_at"]).tzinfo is not None  # page 1's time
    with Image.open(io.BytesIO(preview)) as image:
        assert image.format == "JPEG" and image.size[1] > image.size[0]  # page 1, upright
    assert store.items == []  # no photo was stored
    assert wait_for(lambda: events(audit, "document_stored"))
    assert station.document_ids == ["0190f0c8-0000-7000-8000-000000000001"]
    assert station.desk.page_count(document) == 0  # the pages are gone from memory


def test_a_photo_without_a_page_is_refused_and_nothing_is_kept(rig):
    station, camera, store, audit = rig
    station.dispatch(DocumentAction("other"))
    camera.set_scene(NO_PAGE)
    take_page(station, audit, "page_refused")
    assert events(audit, "page_refused")[-1] == {"reason": "no_page"}
    assert station.workflow.session.document.pages == 0
    camera.set_scene(PAGE)
    take_page(station, audit)
    station.dispatch(DocumentAction("end"))
    assert wait_for(lambda: store.documents, 20)
    assert page_count(store.documents[0][0]) == 1


def test_a_retake_replaces_the_last_page(rig):
    station, camera, store, audit = rig
    station.dispatch(DocumentAction("sketch"))
    take_page(station, audit)
    take_page(station, audit)
    station.dispatch(DocumentAction("retake"))
    assert wait_for(lambda: station.workflow.session.document.pages == 1)
    camera.set_scene(SECOND_PAGE)
    take_page(station, audit)
    station.dispatch(DocumentAction("end"))
    assert wait_for(lambda: store.documents, 20)
    pdf, meta, _ = store.documents[0]
    assert page_count(pdf) == 2 and meta["pages"] == 2


def test_a_consent_form_is_linked_from_the_sessions_next_photo(rig):
    station, camera, store, audit = rig
    station.dispatch(DocumentAction("consent-form"))
    take_page(station, audit)
    station.dispatch(DocumentAction("end"))
    assert wait_for(lambda: station.workflow.session.consent_form is not None, 20)
    camera.set_scene(NO_PAGE)
    station.dispatch(Click())
    assert wait_for(lambda: store.items, 20)
    assert store.items[0][1]["consent_form"] == station.document_ids[0]


def test_a_camera_fault_on_a_page_is_signalled_and_keeps_the_document(rig):
    station, camera, _store, audit = rig
    station.dispatch(DocumentAction("referral"))
    take_page(station, audit)
    camera.fail = RuntimeError("unplugged")
    station.dispatch(Click())
    assert wait_for(lambda: not station.workflow.camera_ok, 10)
    assert station.desk.page_count(station.workflow.session.document.document_id) == 1
    camera.fail = None


def test_a_failed_seal_forgets_the_pages_and_says_why(rig):
    from appliance.vault.errors import DiskFullError

    station, _camera, store, audit = rig
    store.document_error = DiskFullError("full")
    station.dispatch(DocumentAction("referral"))
    take_page(station, audit)
    document = station.workflow.session.document.document_id
    station.dispatch(DocumentAction("end"))
    assert wait_for(lambda: events(audit, "document_refused"), 20)
    assert events(audit, "document_refused")[-1] == {"reason": "disk_full"}
    assert station.desk.page_count(document) == 0
    assert station.workflow.session.closing is None


def test_stopping_the_station_seals_an_open_document(rig):
    station, _camera, store, audit = rig
    station.dispatch(DocumentAction("referral"))
    take_page(station, audit)
    station.stop(timeout=10)
    assert len(store.documents) == 1 and store.documents[0][1]["pages"] == 1
