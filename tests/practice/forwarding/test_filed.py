"""Reading the patient file back for forwarding: versions from the history, retracted captures
from quarantine, the status file following the capture there."""

from __future__ import annotations

import json

import pytest

from practice.forwarding.filed import ORIGINAL, FiledError, find_capture, load_filed
from practice.forwarding.queue import ForwardQueue

from .helpers import file_amendment, file_document, file_photo, jpeg_bytes, write_config

PACS = {"name": "pacs", "kind": "dicomweb", "url": "http://127.0.0.1:9/dicom-web"}


def test_a_version_is_the_same_whenever_it_is_built(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    first, _ = file_amendment(jpg, capture_id, changes={"laterality": "right"},
                              at="2025-03-04T11:00:00+00:00")
    before = load_filed(tmp_path, jpg, first).metadata
    second, history = file_amendment(jpg, capture_id, at="2025-03-04T12:00:00+00:00",
                                     changes={"laterality": "bilateral", "body_site": "foot"})
    sidecar = json.loads(jpg.with_suffix(".json").read_text())
    assert (sidecar["laterality"], sidecar["body_site"]) == ("bilateral", "foot")  # rewritten
    assert load_filed(tmp_path, jpg, first).metadata == before
    assert (before["laterality"], before["body_site"]) == ("right", "hand")
    original = load_filed(tmp_path, jpg, ORIGINAL)
    assert (original.metadata["laterality"], original.applied) == ("left", [])
    latest = load_filed(tmp_path, history)  # an amendment's filed_path finds its capture
    assert latest.metadata["laterality"] == "bilateral"
    assert latest.versions == [None, first, second]
    assert "amendments" not in latest.metadata and "state" not in latest.metadata


def test_an_amendment_filed_before_an_earlier_one_keeps_the_station_order(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    late, _ = file_amendment(jpg, capture_id, changes={"body_site": "foot"},
                             at="2025-03-04T12:00:00+00:00")
    early, _ = file_amendment(jpg, capture_id, changes={"body_site": "knee"},
                              at="2025-03-04T11:00:00+00:00")
    assert load_filed(tmp_path, jpg, early).metadata["body_site"] == "knee"
    assert load_filed(tmp_path, jpg, late).metadata["body_site"] == "foot"
    assert load_filed(tmp_path, jpg).versions == [None, early, late]


def test_an_amendment_not_in_the_history_is_an_error(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    file_amendment(jpg, capture_id, changes={"body_site": "foot"})
    with pytest.raises(FiledError, match="not in its capture's history"):
        load_filed(tmp_path, jpg, "0195aaaa-0000-7000-8000-000000000000")


@pytest.mark.parametrize("filer", [file_photo, file_document])
def test_a_retracted_capture_is_read_from_quarantine(tmp_path, filer):
    capture_id, payload = filer(tmp_path)
    sent = payload.read_bytes()
    corrected, _ = file_amendment(payload, capture_id, changes={"operator": "dr.no"})
    retraction, history = file_amendment(payload, capture_id, retract=True, reason="duplicate",
                                         at="2025-03-04T12:00:00+00:00")
    assert not payload.exists() and history.parent.parts[-3] == "retracted"
    found = find_capture(tmp_path, capture_id)
    assert found.name == payload.name + ".retracted"
    for path in (payload, found, history):  # where first filed, where it is now, its history
        capture = load_filed(tmp_path, path)
        assert capture.payload == sent and capture.capture_id == capture_id
        assert capture.retraction is not None and capture.retraction.amendment_id == retraction
        assert capture.retraction.reason == "duplicate"
        assert capture.versions == [None, corrected]
    assert load_filed(tmp_path, found, corrected).retraction is None  # that version, as it was


def test_find_capture_refuses_what_is_not_filed(tmp_path):
    with pytest.raises(FiledError, match="not a capture id"):
        find_capture(tmp_path, "../../etc")
    with pytest.raises(FiledError, match="no filed capture"):
        find_capture(tmp_path, "0195aaaa-0000-7000-8000-000000000000")


def test_the_status_file_follows_a_retracted_capture_out_of_the_patient_folder(tmp_path):
    write_config(tmp_path, PACS)
    queue = ForwardQueue(tmp_path)
    capture_id, jpg = file_photo(tmp_path, jpeg_bytes())
    queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
    status = jpg.with_name(jpg.stem + ".forward.json")
    assert status.exists()
    retraction, history = file_amendment(jpg, capture_id, retract=True, reason="duplicate")
    assert queue.enqueue("amendment", retraction, history.relative_to(tmp_path)) == 1
    queue.close()
    assert not status.exists()
    moved = json.loads((history.parent / status.name).read_text())
    assert set(moved["pacs"]) == {capture_id, retraction}
    assert [p.name for p in jpg.parent.iterdir()] == []  # nothing about it left in inbox/


def test_a_capture_moved_while_it_is_read_is_a_transient_failure(tmp_path, monkeypatch):
    """A retraction can quarantine the files between finding and reading them: the forwarder
    must retry (the next attempt finds them at their new place), not fail the row for good."""
    from practice.forwarding import delivery
    from practice.forwarding.filed import FiledMoved

    def moved(*_args, **_kwargs):
        raise FiledMoved("the filed capture moved while it was read")

    monkeypatch.setattr(delivery, "load_item", moved)
    outcome = delivery.prepare(tmp_path, None, None, None)
    assert outcome.ok is False and outcome.retry is True
