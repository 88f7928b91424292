"""Delivery under clock steps, clock skew and a full receiver (issue 19, item 8).

* An item retried before the wall clock stepped back waits its own backoff, not the step.
* Retry times left far in the future (a step across a restart) are capped at the maximum
  backoff on the worker's first look.
* A 401 right after the receiver's ``Date`` corrected the offset is retried at once.
* A receiver whose disk is full answers 503 with ``Retry-After``: the worker pauses as a
  whole (one refusal, not one per item), and the receiver's mDNS record says when it accepts
  again, which wakes the worker.
"""

from __future__ import annotations

import errno
import time

import pytest

from practice.capacity import Capacity
from sync.client import ReceiverClient, parse_retry_after
from sync.discovery import Advertiser
from sync.protocol import item_path
from sync.uploader import MdnsLocator, StaticLocator, SyncWorker
from tests.appliance.test_station import wait_for
from tests.sync.helpers import FileOutbox, new_station, seal_capture, start_receiver

pytestmark = pytest.mark.usefixtures("no_thread_leaks")
LOOPBACK = ["127.0.0.1"]


class Clocks:
    """A station's wall clock (which may step) and its monotonic clock (which never does)."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def step(self, seconds: float) -> None:
        self.wall += seconds


def _worker(outbox, station, target, port, events, clocks=None, **kw):
    if clocks is not None:
        kw.update(clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    kw.setdefault("retry_min_seconds", 2.0)
    kw.setdefault("retry_max_seconds", 300.0)
    return SyncWorker(outbox, station.key, target, StaticLocator([("127.0.0.1", port)]),
                      audit=lambda e, d: events.append((e, d)), timeout=5, **kw)


def _queue(outbox, receiver, station, n=1):
    ids = []
    for _ in range(n):
        capture_id, sealed, _ = seal_capture(receiver.keys, station)
        outbox.add("capture", capture_id, sealed)
        ids.append(capture_id)
    return ids


def _one_queued(tmp_path, receiver, clocks=None):
    """An approved station with one capture queued (the outbox on ``clocks``' wall clock)."""
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox",
                        **({"clock": lambda: clocks.wall} if clocks is not None else {}))
    [capture_id] = _queue(outbox, receiver, station)
    return station, target, outbox, capture_id


def test_an_item_retried_before_a_backward_step_is_delivered_within_its_backoff(tmp_path,
                                                                                receiver):
    clocks = Clocks()
    station, target, outbox, capture_id = _one_queued(tmp_path, receiver, clocks)
    worker = _worker(outbox, station, target, receiver.port, [], clocks)
    try:
        item = outbox.lease_next(60)
        assert worker.run_once() == "idle"  # the worker has seen the clock once
        outbox.release(item.item_id, clocks.wall + 4)  # an attempt failed: retry in 4 s
        clocks.step(-3600)  # NTP steps the clock back an hour
        clocks.advance(1)
        assert worker.run_once() == "idle"  # 3 s of its backoff still to go...
        clocks.advance(3.1)
        assert worker.run_once() == "delivered"  # ...not 3600
        assert outbox.state(capture_id) == "delivered"
    finally:
        worker.stop()


def test_a_pause_taken_before_a_backward_step_ends_on_time(tmp_path, receiver):
    clocks = Clocks()
    station, target, outbox, _capture_id = _one_queued(tmp_path, receiver, clocks)
    worker = _worker(outbox, station, target, receiver.port, [], clocks)
    try:
        assert worker.run_once() == "delivered"
        _queue(outbox, receiver, station)
        worker.paused_until = clocks.wall + 5  # e.g. the receiver was unreachable
        clocks.step(-3600)
        assert worker.run_once() == "paused"
        clocks.advance(5.1)
        assert worker.run_once() == "delivered"
    finally:
        worker.stop()


def test_retry_times_left_far_out_are_capped_after_a_restart(tmp_path, receiver):
    """A run before the clock stepped back a day left retry times a day out; the next run
    (a fresh worker: it never saw the step) still delivers within the maximum backoff."""
    clocks = Clocks()
    station, target, outbox, capture_id = _one_queued(tmp_path, receiver, clocks)
    item = outbox.lease_next(60)
    outbox.release(item.item_id, clocks.wall + 24 * 3600)
    worker = _worker(outbox, station, target, receiver.port, [], clocks, retry_max_seconds=30)
    try:
        assert worker.run_once() == "idle"
        assert outbox.row(capture_id).retry_at == pytest.approx(clocks.wall + 30)
        clocks.advance(30.1)
        assert worker.run_once() == "delivered"
    finally:
        worker.stop()


def test_a_clock_skew_401_is_retried_at_once_with_the_corrected_offset(tmp_path, receiver):
    station, target, outbox, capture_id = _one_queued(tmp_path, receiver)
    events = []
    worker = _worker(outbox, station, target, receiver.port, events,
                     signing_clock=lambda: time.time() - 3600)  # the station is an hour behind
    try:
        assert worker.run_once() == "retry"  # refused: signed an hour ago
        assert [(e, d["item_id"], d["clock_corrected"]) for e, d in events] == [
            ("sync.unauthorized", capture_id, True)]
        assert worker._client.clock_offset == pytest.approx(3600, abs=3)
        assert worker.run_once() == "delivered"  # at once, with the receiver's time
    finally:
        worker.stop()


def test_a_401_without_a_clock_correction_waits_its_backoff(tmp_path, receiver):
    _station, target, outbox, capture_id = _one_queued(tmp_path, receiver)
    impostor = new_station()  # signs with a key the receiver does not know
    events = []
    worker = _worker(outbox, impostor, target, receiver.port, events)
    try:
        assert worker.run_once() == "retry"
        assert events[0][1]["clock_corrected"] is False
        assert worker.run_once() == "idle"  # backing off: not retried in a loop
        assert outbox.row(capture_id).retry_at > time.time()
    finally:
        worker.stop()


# -- a full receiver --------------------------------------------------------------------------

class Full(Capacity):
    """A receiver disk with ``free`` bytes (no need to fill a real one for the protocol)."""

    def __init__(self, data_dir, free, **kw):
        super().__init__(data_dir, **kw)
        self.free = free

    def _free(self):
        return self.free


def test_a_full_receiver_pauses_the_worker_as_a_whole(tmp_path):
    capacity = Full(tmp_path / "receiver", free=0, retry_after_seconds=20)
    receiver = start_receiver(tmp_path / "receiver", capacity=capacity)
    try:
        station = new_station()
        target = receiver.enrol_directly(station)
        outbox = FileOutbox(tmp_path / "outbox")
        ids = _queue(outbox, receiver, station, n=5)
        events = []
        worker = _worker(outbox, station, target, receiver.port, events)
        assert worker.run_once() == "busy"
        assert [worker.run_once() for _ in range(3)] == ["paused"] * 3  # not item by item
        assert [e for e, _ in events] == ["sync.receiver_busy"]
        assert events[0][1]["status"] == 503 and events[0][1]["reason"] == "receiver_full"
        assert worker.paused_until - time.time() == pytest.approx(20, abs=2)  # Retry-After
        assert all(outbox.state(i) == "queued" for i in ids)
        assert receiver.filed_jpegs() == []
        # Space is freed: the receiver accepts again; the station learns it (mDNS, below)
        capacity.free = 1 << 40
        assert capacity.check()
        worker.wake()
        outcomes = [worker.run_once() for _ in range(5)]
        worker.stop()
        assert outcomes == ["delivered"] * 5
        assert len(receiver.filed_jpegs()) == 5
    finally:
        receiver.stop()


def test_enospc_while_filing_answers_503_with_retry_after_and_files_nothing(tmp_path,
                                                                          monkeypatch):
    receiver = start_receiver(tmp_path / "receiver")
    try:
        station = new_station()
        receiver.enrol_directly(station)
        capture_id, sealed, _ = seal_capture(receiver.keys, station)

        def no_space(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(receiver.app, "_file", no_space)
        import hashlib

        with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                            station.station_id, timeout=5) as client:
            response = client.request("PUT", item_path("capture", capture_id), body=sealed,
                                      sha256_hex=hashlib.sha256(sealed).hexdigest())
        assert response.status == 503
        assert response.error == "receiver_full"
        assert response.retry_after == receiver.app.capacity.retry_after_seconds
        assert not receiver.app.capacity.accepting
        assert receiver.store.item(capture_id) is None
        assert receiver.filed_jpegs() == []
    finally:
        receiver.stop()


def test_capacity_announces_each_change_once(tmp_path):
    changes = []
    capacity = Full(tmp_path, free=0, reserve_bytes=100, on_change=changes.append)
    assert not capacity.room_for(10)
    assert not capacity.room_for(10)
    capacity.free = 150  # above the reserve, not twice it: still full (no flapping)
    assert not capacity.check()
    capacity.free = 1000
    assert capacity.check()
    assert capacity.room_for(10)
    assert changes == [False, True]


def test_retry_after_is_read_as_seconds_or_a_date():
    assert parse_retry_after("30", 0) == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470) == 10
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after("99999999999", 0) == 86400


def test_the_mdns_record_says_full_then_accepting_and_wakes_the_worker(tmp_path):
    capacity = Full(tmp_path / "receiver", free=0, retry_after_seconds=120)
    receiver = start_receiver(tmp_path / "receiver", capacity=capacity)
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox")
    _queue(outbox, receiver, station, n=2)
    holder = {}
    locator = MdnsLocator(receiver.keys.name, receiver.pin, interfaces=LOOPBACK,
                          on_change=lambda: holder["worker"].wake())
    worker = SyncWorker(outbox, station.key, target, locator, audit=lambda e, d: None,
                        timeout=5, retry_max_seconds=300)
    holder["worker"] = worker
    advertiser = Advertiser(receiver.keys.name, receiver.port, receiver.pin,
                            interfaces=LOOPBACK)
    capacity.on_change = lambda accepting: advertiser.set_accepting(
        accepting, capacity.retry_after_seconds)
    try:
        assert wait_for(lambda: locator.addresses() == [("127.0.0.1", receiver.port)], 15)
        assert worker.run_once() == "busy"  # 503: paused for two minutes
        assert worker.run_once() == "paused"

        def state():
            found = locator.browser.candidates(name=receiver.keys.name, pin=receiver.pin)
            return found[0].accepting if found else None

        assert wait_for(lambda: state() is False, 15)  # the record says "full"
        worker.paused_until = time.time() + 120  # (the "full" record may have woken it)
        capacity.free = 1 << 40
        capacity.check()  # what serve does every few seconds: "accepting" again
        assert wait_for(lambda: state() is True, 15)
        assert wait_for(lambda: worker.paused_until == 0.0, 15)  # the update woke the worker
        assert worker.run_once() == "delivered"
    finally:
        worker.stop()
        locator.close()
        advertiser.close()
        receiver.stop()
