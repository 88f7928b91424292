"""The durable forward queue: idempotent enqueue, order, backoff time, restarts, status file."""

from __future__ import annotations

import json

from practice.forwarding.queue import ForwardQueue

from .helpers import file_amendment, file_photo, write_config

PACS = {"name": "pacs", "kind": "dicomweb", "url": "http://127.0.0.1:9/dicom-web"}
EHR = {"name": "ehr", "kind": "fhir", "url": "http://127.0.0.1:9/fhir"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _queue(tmp_path, clock=None):
    return ForwardQueue(tmp_path, clock=clock or Clock())


def test_nothing_is_queued_without_destinations(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    queue = _queue(tmp_path)
    assert queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path)) == 0
    assert queue.items() == []
    queue.close()


def test_enqueue_once_per_destination_survives_reopen_and_shows_in_the_patient_file(tmp_path):
    write_config(tmp_path, PACS, EHR)
    capture_id, jpg = file_photo(tmp_path)
    queue = _queue(tmp_path)
    assert queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path)) == 2
    assert queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path)) == 0  # a re-filing
    queue.close()
    queue = _queue(tmp_path)
    assert sorted(i.destination for i in queue.items()) == ["ehr", "pacs"]
    status = json.loads(jpg.with_name(jpg.stem + ".forward.json").read_text())
    assert status["pacs"][capture_id]["state"] == "pending"
    assert status["pacs"][capture_id]["next_attempt_at"].endswith("+00:00")  # when it is tried
    item = queue.due("pacs")[0]
    queue.mark_failed(item, "STOW-RS: HTTP 400")
    status = json.loads(jpg.with_name(jpg.stem + ".forward.json").read_text())
    assert status["pacs"][capture_id] | {"attempts": 0} == {
        "kind": "capture", "state": "failed", "attempts": 0, "last_error": "STOW-RS: HTTP 400",
        "forwarded_at": None, "next_attempt_at": None}
    assert queue.counts()["pacs"] == {"pending": 0, "forwarded": 0, "failed": 1}
    assert queue.retry_failed() == 1 and queue.due("pacs")[0].item_id == capture_id
    queue.close()


def test_amendment_waits_for_its_capture_and_retry_waits_for_its_time(tmp_path):
    write_config(tmp_path, PACS)
    clock = Clock()
    capture_id, jpg = file_photo(tmp_path)
    amendment_id, note = file_amendment(jpg, capture_id, changes={"consent": "record-only"})
    queue = _queue(tmp_path, clock)
    queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
    queue.enqueue("amendment", amendment_id, note.relative_to(tmp_path))
    assert [i.item_id for i in queue.due("pacs")] == [capture_id]
    queue.mark_retry(queue.due("pacs")[0], "STOW-RS: HTTP 503", 0.15)
    assert queue.due("pacs") == []
    assert 0.1 < queue.seconds_until_due("pacs") < 0.16
    clock.now += 0.2
    capture = queue.due("pacs")[0]
    assert capture.attempts == 1 and capture.last_error == "STOW-RS: HTTP 503"
    queue.mark_forwarded(capture)
    assert [i.item_id for i in queue.due("pacs")] == [amendment_id]
    assert queue.items(capture_id)[1].capture_id == capture_id
    queue.close()


def test_a_clock_jumping_back_does_not_strand_an_item(tmp_path):
    write_config(tmp_path, PACS)  # retry.max_s = 0.2
    clock = Clock()
    capture_id, jpg = file_photo(tmp_path)
    queue = _queue(tmp_path, clock)
    queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
    queue.mark_retry(queue.due("pacs")[0], "x", 0.2)
    clock.now -= 3600  # the wall clock is set back an hour
    assert [i.item_id for i in queue.due("pacs")] == [capture_id]
    queue.close()


def test_amendment_of_an_unfiled_capture_is_not_queued(tmp_path):
    write_config(tmp_path, PACS)
    note = tmp_path / "inbox" / "x" / "y" / "2025-03-04_gone.history.json"
    note.parent.mkdir(parents=True)
    note.write_text(json.dumps({"capture_id": "gone", "original": {}, "amendments": []}))
    queue = _queue(tmp_path)
    assert queue.enqueue("amendment", "abc", note.relative_to(tmp_path)) == 0
    queue.close()
