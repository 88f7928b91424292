"""The sync worker end to end against a real receiver: outages, cut connections, refusals.

The worker is driven step by step (``run_once``) where the order of events matters, and as
its real background thread where the point is that it gets there by itself.
"""

from __future__ import annotations

import time

import pytest

from sync.uploader import Backoff, StaticLocator, SyncWorker
from tests.sync.helpers import (
    CuttingProxy,
    FileOutbox,
    new_station,
    noise_jpeg,
    seal_capture,
    start_receiver,
)

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _worker(outbox, station, target, port, events, **kw):
    return SyncWorker(outbox, station.key, target, StaticLocator([("127.0.0.1", port)]),
                      audit=lambda e, d: events.append((e, d)), retry_min_seconds=0.05,
                      retry_max_seconds=0.2, timeout=5, **kw)


def _drain(worker, outbox, limit=200):
    outcomes = []
    for _ in range(limit):
        if outbox.pending_count() == 0:
            break
        outbox.make_due()
        worker.paused_until = 0.0
        outcomes.append(worker.run_once())
    return outcomes


def test_backoff_grows_exponentially_with_bounded_jitter():
    low = Backoff(2, 300, rng=lambda: 0.0)
    high = Backoff(2, 300, rng=lambda: 0.999999)
    assert [low.delay(n) for n in range(4)] == [1, 2, 4, 8]
    assert [round(high.delay(n), 3) for n in range(4)] == [2, 4, 8, 16]
    assert low.delay(50) == 150 and round(high.delay(50)) == 300


def test_receiver_down_then_back_files_every_capture_exactly_once(tmp_path):
    data_dir = tmp_path / "receiver"
    receiver = start_receiver(data_dir)
    station = new_station()
    target = receiver.enrol_directly(station)
    port, keys = receiver.port, receiver.keys
    receiver.stop()  # the practice server goes down

    outbox = FileOutbox(tmp_path / "outbox")
    ids = []
    for _ in range(5):
        capture_id, sealed, _ = seal_capture(keys, station)
        outbox.add("capture", capture_id, sealed)
        ids.append(capture_id)
    events = []
    worker = _worker(outbox, station, target, port, events)
    assert worker.run_once() == "unavailable"
    assert worker.run_once() == "paused"  # backs off as a whole, not item by item
    assert outbox.pending_count() == 5
    assert all(outbox.state(i) == "queued" for i in ids)

    receiver = start_receiver(data_dir, port=port, keys=keys)  # back, same address
    try:
        worker.start()
        deadline = time.monotonic() + 30
        while outbox.pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        assert [outbox.state(i) for i in ids] == ["delivered"] * 5
        filed = receiver.filed_jpegs()
        assert sorted(p.stem.split("_", 1)[1] for p in filed) == sorted(ids)
        assert receiver.store.item_count() == 5
        assert events == []
    finally:
        worker.stop()
        receiver.stop()


def test_connection_cut_mid_upload_is_retried_and_filed_once(tmp_path):
    receiver = start_receiver(tmp_path / "receiver")
    proxy = CuttingProxy(receiver.port, after=200_000, cuts=2)
    try:
        station = new_station()
        target = receiver.enrol_directly(station)
        outbox = FileOutbox(tmp_path / "outbox")
        capture_id, sealed, image = seal_capture(receiver.keys, station,
                                                 image=noise_jpeg((700, 700)))  # ~1 MB
        outbox.add("capture", capture_id, sealed)
        worker = _worker(outbox, station, target, proxy.port, [])
        outcomes = _drain(worker, outbox)
        worker.stop()
        assert outcomes == ["unavailable", "unavailable", "delivered"]
        assert proxy.cut_connections == 2
        assert outbox.state(capture_id) == "delivered"
        [jpg] = receiver.filed_jpegs()
        assert jpg.read_bytes() == image
        assert list((receiver.data_dir / "incoming").iterdir()) == []  # partials cleaned up
    finally:
        proxy.close()
        receiver.stop()


def test_revoked_station_is_refused_and_keeps_its_captures(tmp_path, receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    receiver.store.set_status(station.station_id, "revoked")
    outbox = FileOutbox(tmp_path / "outbox")
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    item = outbox.add("capture", capture_id, sealed)
    events = []
    worker = _worker(outbox, station, target, receiver.port, events)
    assert worker.run_once() == "refused"
    worker.stop()
    assert outbox.state(capture_id) == "queued"
    assert item.path.read_bytes() == sealed
    assert events == [("sync.refused", {"item_id": capture_id, "reason": "revoked"})]
    assert receiver.filed_jpegs() == []

    receiver.store.set_status(station.station_id, "approved")  # the admin changes their mind
    worker = _worker(outbox, station, target, receiver.port, events)
    assert _drain(worker, outbox) == ["delivered"]
    worker.stop()
    assert len(receiver.filed_jpegs()) == 1


def test_undeliverable_item_is_rejected_not_retried_forever(tmp_path, receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox")
    other = new_station("other")
    capture_id, sealed, _ = seal_capture(receiver.keys, other)  # names another station
    outbox.add("capture", capture_id, sealed)
    events = []
    worker = _worker(outbox, station, target, receiver.port, events)
    assert worker.run_once() == "rejected"
    worker.stop()
    assert outbox.state(capture_id) == "rejected"
    assert events[0][0] == "sync.rejected" and events[0][1]["status"] == 422


def test_receipt_signed_by_another_key_does_not_mark_delivered(tmp_path, receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    impostor_key = new_station().public_raw  # any other Ed25519 key
    from dataclasses import replace

    outbox = FileOutbox(tmp_path / "outbox")
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    outbox.add("capture", capture_id, sealed)
    events = []
    worker = _worker(outbox, station, replace(target, receipt_public_key=impostor_key),
                     receiver.port, events)
    assert worker.run_once() == "retry"
    worker.stop()
    assert outbox.state(capture_id) == "queued"
    assert events[0][0] == "sync.bad_receipt"


def test_pin_mismatch_sends_nothing_and_is_audited(tmp_path, receiver):
    from practice.keys import ReceiverKeys
    from tests.sync.helpers import RogueTlsServer

    rogue = RogueTlsServer(ReceiverKeys.create(tmp_path / "rogue", receiver.keys.name))
    try:
        station = new_station()
        target = receiver.enrol_directly(station)
        outbox = FileOutbox(tmp_path / "outbox")
        capture_id, sealed, _ = seal_capture(receiver.keys, station)
        outbox.add("capture", capture_id, sealed)
        events = []
        worker = SyncWorker(
            outbox, station.key, target,
            StaticLocator([("127.0.0.1", rogue.port), ("127.0.0.1", receiver.port)]),
            audit=lambda e, d: events.append((e, d)), timeout=5)
        assert worker.run_once() == "delivered"  # skipped the rogue, used the real one
        worker.stop()
        assert rogue.handshakes == 1
        assert bytes(rogue.received) == b""
        assert [e for e, _ in events] == ["sync.pin_mismatch"]
        assert events[0][1]["port"] == rogue.port
        assert events[0][1]["seen_pin"] != receiver.pin
    finally:
        rogue.close()


def test_the_worker_reports_queue_depth_and_version_and_a_heartbeat_when_idle(tmp_path,
                                                                             receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox")
    for _ in range(3):
        capture_id, sealed, _ = seal_capture(receiver.keys, station)
        outbox.add("capture", capture_id, sealed)
    clock = [1000.0]
    worker = _worker(outbox, station, target, receiver.port, [], version="9.8.7",
                     clock=lambda: clock[0], status_interval_seconds=60)
    try:
        assert worker.run_once() == "delivered"
        seen = receiver.store.station(station.station_id)
        assert (seen.queue_depth, seen.version) == (3, "9.8.7")  # counted while sending
        while worker.run_once() == "delivered":
            pass
        before = receiver.store.station(station.station_id)
        assert before.queue_depth == 1  # the last upload was sent with itself still queued
        clock[0] += 61  # idle long enough: a status call reports the empty queue
        assert worker.run_once() == "idle"
        after = receiver.store.station(station.station_id)
        assert after.queue_depth == 0 and after.last_delivery == before.last_delivery
    finally:
        worker.stop()
