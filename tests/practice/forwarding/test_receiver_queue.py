"""The receiver queues what it files: captures, amendments (at their capture's history file),
retractions, and amendments that arrived before their capture, in an order the PACS can use."""

from __future__ import annotations

import hashlib

import pytest

from practice.forwarding.delivery import load_item
from practice.forwarding.queue import ForwardQueue
from sync.client import ReceiverClient
from sync.protocol import item_path
from tests.sync.helpers import new_station, seal_amendment, seal_capture, start_receiver

from .helpers import write_config

PACS = {"name": "pacs", "kind": "dicomweb", "url": "http://127.0.0.1:9/dicom-web"}


@pytest.fixture
def queued(tmp_path):
    """A receiver with a forward queue to one PACS, and an enrolled station."""
    data_dir = tmp_path / "receiver"
    data_dir.mkdir()
    write_config(data_dir, PACS)
    queue = ForwardQueue(data_dir)
    receiver = start_receiver(data_dir, forward_queue=queue)
    station = new_station("exam-q")
    receiver.enrol_directly(station)
    yield receiver, station, queue
    receiver.stop()
    queue.close()


def _put(receiver, station, kind, item_id, sealed) -> None:
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                        station.station_id, timeout=30) as client:
        response = client.request("PUT", item_path(kind, item_id), body=sealed,
                                  sha256_hex=hashlib.sha256(sealed).hexdigest())
    assert response.status == 201


def test_capture_amendment_and_retraction_are_queued_in_order(queued):
    receiver, station, queue = queued
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    _put(receiver, station, "capture", capture_id, sealed)
    amendment_id, sealed = seal_amendment(receiver.keys, station, capture_id,
                                          changes={"laterality": "right"})
    _put(receiver, station, "amendment", amendment_id, sealed)
    retraction_id, sealed = seal_amendment(receiver.keys, station, capture_id, retract=True)
    _put(receiver, station, "amendment", retraction_id, sealed)
    items = queue.items(capture_id)
    assert [(i.kind, i.item_id) for i in items] == [
        ("capture", capture_id), ("amendment", amendment_id), ("amendment", retraction_id)]
    assert items[1].filed_path.endswith(".history.json")
    assert items[0].payload_path == items[1].payload_path  # where the capture was filed
    assert receiver.store.item(capture_id).filed_path.startswith("retracted/")  # now here
    data = receiver.data_dir
    assert load_item(data, items[0]).applied == []  # the capture row: as first sent
    assert load_item(data, items[1]).metadata["laterality"] == "right"
    assert load_item(data, items[2]).retraction.amendment_id == retraction_id


def test_an_amendment_that_arrived_first_is_queued_after_its_capture(queued):
    receiver, station, queue = queued
    capture_id, sealed_capture, _ = seal_capture(receiver.keys, station)
    amendment_id, sealed = seal_amendment(receiver.keys, station, capture_id)
    _put(receiver, station, "amendment", amendment_id, sealed)
    assert queue.items() == []  # kept sealed: nothing to forward yet
    _put(receiver, station, "capture", capture_id, sealed_capture)
    items = queue.items(capture_id)
    assert [(i.kind, i.item_id) for i in items] == [
        ("capture", capture_id), ("amendment", amendment_id)]
    assert items[1].filed_path == receiver.store.item(amendment_id).filed_path
    assert load_item(receiver.data_dir, items[1]).metadata["body_site"] == "knee"
