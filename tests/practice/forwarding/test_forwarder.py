"""The forwarder against a loopback FHIR server and STOW-RS sink: delivery, outages, refusals."""

from __future__ import annotations

import time

import pytest

from practice.forwarding.forwarder import Forwarder, backoff_s
from practice.forwarding.queue import ForwardQueue
from practice.forwarding.uids import instance_uid

from .helpers import Running, file_amendment, file_document, file_photo, write_config

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


@pytest.fixture
def servers():
    running = Running()
    yield running
    running.stop()


def _setup(tmp_path, servers):
    write_config(tmp_path,
                 {"name": "pacs", "kind": "dicomweb", "url": f"{servers.url}/dicom-web"},
                 {"name": "ehr", "kind": "fhir", "url": f"{servers.url}/fhir"},
                 institution="St Example")
    return ForwardQueue(tmp_path)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_backoff_doubles_is_capped_and_jittered():
    assert backoff_s(0, 2, 300, lambda: 0.0) == 1.0
    assert backoff_s(0, 2, 300, lambda: 1.0) == 2.0
    assert backoff_s(3, 2, 300, lambda: 1.0) == 16.0
    assert backoff_s(30, 2, 300, lambda: 1.0) == 300.0
    assert 150.0 <= backoff_s(100, 2, 300) <= 300.0


def test_capture_amendment_and_retraction_reach_both_destinations_once(tmp_path, servers):
    queue = _setup(tmp_path, servers)
    forwarder = Forwarder(queue)
    forwarder.start()
    try:
        capture_id, jpg = file_photo(tmp_path)
        queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
        queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))  # filed twice
        amendment_id, note = file_amendment(jpg, capture_id, changes={"laterality": "right"})
        queue.enqueue("amendment", amendment_id, note.relative_to(tmp_path))
        retraction_id, note = file_amendment(jpg, capture_id, retract=True,
                                             reason="wrong_patient",
                                             at="2025-03-04T12:00:00+00:00")
        queue.enqueue("amendment", retraction_id, note.relative_to(tmp_path))
        _wait(lambda: queue.counts().get("ehr", {}).get("forwarded") == 3
              and queue.counts()["pacs"]["forwarded"] == 3)
    finally:
        forwarder.stop()
    stowed = servers.state.stowed
    assert len(stowed) == 3
    assert stowed[0].count(b"Content-Type: application/dicom") == 1
    assert stowed[1].count(b"Content-Type: application/dicom") == 2  # corrected + its note
    assert stowed[2].count(b"Content-Type: application/dicom") == 1  # the rejection note
    assert len(servers.state.fhir) == 1  # created once, then updated in place
    media = next(iter(servers.state.fhir.values()))
    assert media["status"] == "entered-in-error"
    assert media["bodySite"]["extension"][0]["valueCoding"]["code"] == "24028007"
    queue.close()


def test_outage_queues_then_everything_is_delivered_in_order(tmp_path, servers):
    queue = _setup(tmp_path, servers)
    servers.state.down = True
    forwarder = Forwarder(queue)
    forwarder.start()
    try:
        ids = []
        for _ in range(3):
            capture_id, jpg = file_photo(tmp_path)
            queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
            ids.append(capture_id)
        doc_id, pdf = file_document(tmp_path)
        queue.enqueue("document", doc_id, pdf.relative_to(tmp_path))
        _wait(lambda: all(i.attempts >= 1 for i in queue.items() if i.item_id == ids[0]))
        first = [i for i in queue.items() if i.item_id == ids[0]]
        assert {i.state for i in first} == {"pending"}
        assert {i.last_error for i in first} == {"STOW-RS: HTTP 503", "FHIR Media: HTTP 503"}
        servers.state.down = False
        _wait(lambda: queue.counts()["pacs"]["forwarded"] == 4
              and queue.counts()["ehr"]["forwarded"] == 4, timeout=15)
    finally:
        forwarder.stop()
    instances = sum(body.count(b"Content-Type: application/dicom")
                    for body in servers.state.stowed)
    assert instances == 4  # each once (grouping depends on when each retry fell due)
    kinds = sorted(r["resourceType"] for r in servers.state.fhir.values())
    assert kinds == ["DocumentReference", "Media", "Media", "Media"]
    queue.close()


def test_a_refusal_fails_the_item_with_the_reason_and_retry_rearms_it(tmp_path, servers):
    queue = _setup(tmp_path, servers)
    servers.state.refuse = True
    capture_id, jpg = file_photo(tmp_path)
    queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
    forwarder = Forwarder(queue)
    try:
        forwarder.drain_all()
        assert {(i.state, i.last_error) for i in queue.items()} == {
            ("failed", "STOW-RS: HTTP 400"), ("failed", "FHIR Media: HTTP 400")}
        servers.state.refuse = False
        assert queue.retry_failed([capture_id]) == 2
        forwarder.drain_all()
        assert {i.state for i in queue.items()} == {"forwarded"}
    finally:
        forwarder.stop()
        queue.close()


def test_a_grouped_stow_fails_only_the_row_whose_instance_was_refused(tmp_path, servers):
    queue = _setup(tmp_path, servers)
    ids = []
    for _ in range(3):
        capture_id, jpg = file_photo(tmp_path)
        queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
        ids.append(capture_id)
    servers.state.refuse_sops = {instance_uid(ids[1])}
    forwarder = Forwarder(queue)
    try:
        forwarder.drain_all()
    finally:
        forwarder.stop()
    pacs = {i.item_id: i for i in queue.items() if i.destination == "pacs"}
    first, grouped = servers.state.stowed  # one row starts the wire, then the rest together
    assert first.count(b"Content-Type: application/dicom") == 1
    assert grouped.count(b"Content-Type: application/dicom") == 2
    assert (pacs[ids[0]].state, pacs[ids[2]].state) == ("forwarded", "forwarded")
    assert (pacs[ids[1]].state, pacs[ids[1]].last_error) == (
        "failed", "STOW-RS refused 1 instance(s), failure reason 42752")
    queue.close()


def test_an_item_that_cannot_be_built_fails_without_sending(tmp_path, servers):
    queue = _setup(tmp_path, servers)
    capture_id, jpg = file_photo(tmp_path, b"not a jpeg at all")
    queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
    forwarder = Forwarder(queue)
    try:
        forwarder.drain_all()
    finally:
        forwarder.stop()
    assert {i.state for i in queue.items()} == {"failed"}
    assert all(i.last_error.startswith("cannot build") for i in queue.items())
    assert servers.state.requests == []
    queue.close()
