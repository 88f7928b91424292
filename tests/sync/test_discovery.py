"""mDNS on loopback with real zeroconf: advertising, browsing, and a rogue that lies.

A rogue on the LAN can announce the genuine receiver's name and even its pin in TXT; the
station must still send it zero capture bytes (the TLS key decides) and record an audit event.
"""

from __future__ import annotations

import time

import pytest

from practice.keys import ReceiverKeys
from sync.discovery import Advertiser, Browser, find_receiver
from sync.uploader import MdnsLocator, SyncWorker
from tests.sync.helpers import FileOutbox, RogueTlsServer, new_station, seal_capture

pytestmark = pytest.mark.usefixtures("no_thread_leaks")
LOOPBACK = ["127.0.0.1"]


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_browser_finds_advertised_receiver_with_txt(receiver):
    with Advertiser(receiver.keys.name, receiver.port, receiver.pin, interfaces=LOOPBACK), \
            Browser(LOOPBACK) as browser:
        found = browser.wait_for(name=receiver.keys.name, pin=receiver.pin, timeout=10)
        assert [(c.name, c.host, c.port, c.version, c.txt_pin) for c in found] == [
            (receiver.keys.name, "127.0.0.1", receiver.port, "1", receiver.pin)]
        # an unrelated instance is not a candidate
        assert browser.candidates(name="elsewhere", pin="0" * 64) == []


def test_find_receiver_is_one_browse_for_enrolment(receiver):
    """The lookup of `capture-station enrol` and `provision`: name or pin, then closed."""
    assert find_receiver(receiver.keys.name, receiver.pin, timeout=0.5,
                         interfaces=LOOPBACK) == []  # nothing advertised yet
    with Advertiser(receiver.keys.name, receiver.port, receiver.pin, interfaces=LOOPBACK):
        expected = [("127.0.0.1", receiver.port)]
        assert find_receiver(receiver.keys.name, receiver.pin, timeout=10,
                             interfaces=LOOPBACK) == expected
        # renamed after a conflict: still found by its pin
        assert find_receiver("another-name", receiver.pin, timeout=10,
                             interfaces=LOOPBACK) == expected
        assert find_receiver("another-name", "0" * 64, timeout=0.5,
                             interfaces=LOOPBACK) == []


def test_rogue_with_genuine_name_and_pin_in_txt_gets_zero_bytes(tmp_path, receiver):
    rogue = RogueTlsServer(ReceiverKeys.create(tmp_path / "rogue", receiver.keys.name))
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox")
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    outbox.add("capture", capture_id, sealed)
    events = []
    locator = MdnsLocator(receiver.keys.name, receiver.pin, interfaces=LOOPBACK)
    worker = SyncWorker(outbox, station.key, target, locator,
                        audit=lambda e, d: events.append((e, d)), timeout=5)
    try:
        # Only the rogue is on the network, lying about the pin.
        with Advertiser(receiver.keys.name, rogue.port, receiver.pin, interfaces=LOOPBACK):
            assert _wait(lambda: locator.addresses() == [("127.0.0.1", rogue.port)])
            assert worker.run_once() == "unavailable"
        assert rogue.handshakes == 1
        assert bytes(rogue.received) == b""
        assert outbox.state(capture_id) == "queued"
        assert events == [("sync.pin_mismatch", {
            "host": "127.0.0.1", "port": rogue.port, "seen_pin": rogue_pin(tmp_path),
            "expected_pin": receiver.pin, "receiver_name": receiver.keys.name})]

        # The genuine receiver appears: delivered, and the rogue still has nothing.
        assert _wait(lambda: locator.addresses() == [])
        with Advertiser(receiver.keys.name, receiver.port, receiver.pin, interfaces=LOOPBACK):
            assert _wait(lambda: ("127.0.0.1", receiver.port) in locator.addresses())
            outbox.make_due()
            worker.paused_until = 0
            assert worker.run_once() == "delivered"
        assert len(receiver.filed_jpegs()) == 1
        assert bytes(rogue.received) == b""
    finally:
        worker.stop()
        locator.close()
        rogue.close()


def rogue_pin(tmp_path):
    return ReceiverKeys.load(tmp_path / "rogue").pin


def test_worker_thread_delivers_when_receiver_is_announced(tmp_path, receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    outbox = FileOutbox(tmp_path / "outbox")
    ids = []
    for _ in range(3):
        capture_id, sealed, _ = seal_capture(receiver.keys, station)
        outbox.add("capture", capture_id, sealed)
        ids.append(capture_id)
    worker_box = {}
    locator = MdnsLocator(receiver.keys.name, receiver.pin, interfaces=LOOPBACK,
                          on_change=lambda: worker_box["w"].wake())
    worker = SyncWorker(outbox, station.key, target, locator, audit=lambda e, d: None,
                        retry_min_seconds=60, retry_max_seconds=120, idle_poll_seconds=60,
                        timeout=5)
    worker_box["w"] = worker
    worker.start()
    try:
        # Nothing is advertised: the worker finds no receiver and backs off for a minute...
        assert _wait(lambda: worker.paused_until > time.time() + 10)
        # ... but the announcement wakes it, long before the backoff would end, and every
        # item goes at once (a receiver failure does not delay the items themselves).
        with Advertiser(receiver.keys.name, receiver.port, receiver.pin, interfaces=LOOPBACK):
            assert _wait(lambda: outbox.pending_count() == 0, timeout=20)
        assert [outbox.state(i) for i in ids] == ["delivered"] * 3
    finally:
        worker.stop()
        locator.close()
