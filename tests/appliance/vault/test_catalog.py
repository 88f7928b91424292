"""The catalog's named statements, each against a real SQLite file."""

from __future__ import annotations

import pytest

from appliance.vault import catalog as cat
from appliance.vault.catalog import UNHASHED, Catalog


@pytest.fixture
def catalog(tmp_path):
    c = Catalog(tmp_path / "vault.db")
    yield c
    c.close()


def _item(db, item_id, *, kind="capture", capture_id=None, created_at=1.0, sha256=UNHASHED):
    cat.insert_item(db, item_id=item_id, kind=kind,
                    capture_id=item_id if capture_id is None and kind == "capture"
                    else capture_id,
                    file=f"{item_id}.sealed", size=10, sha256=sha256, created_at=created_at)


def _capture(db, capture_id, created_at=1.0, pseudonym="p-1", review_kid="k1"):
    _item(db, capture_id, created_at=created_at)
    cat.insert_capture(db, capture_id=capture_id, created_at=created_at, pseudonym=pseudonym,
                       review_kid=review_kid)


def test_leases_the_oldest_due_item_once(catalog):
    with catalog.transaction() as db:
        _capture(db, "b", created_at=2.0)
        _capture(db, "a", created_at=1.0)
    with catalog.transaction() as db:
        row = cat.lease_oldest_due(db, now=10.0, lease_until=70.0)
    assert (row["item_id"], row["state"], row["attempts"]) == ("a", "queued", 0)
    leased = catalog.item("a")
    assert (leased["state"], leased["lease_until"], leased["attempts"]) == ("sending", 70.0, 1)
    with catalog.transaction() as db:
        assert cat.lease_oldest_due(db, 10.0, 70.0)["item_id"] == "b"
        assert cat.lease_oldest_due(db, 10.0, 70.0) is None
        # An expired lease may be taken again.
        assert cat.lease_oldest_due(db, 70.0, 130.0)["item_id"] == "a"
    assert catalog.item("a")["attempts"] == 2


def test_lease_skips_items_not_due_discarded_captures_and_early_amendments(catalog):
    with catalog.transaction() as db:
        _capture(db, "c1", created_at=1.0)
        _item(db, "am", kind="amendment", capture_id="c1", created_at=2.0)
        _capture(db, "c2", created_at=3.0)
        cat.settle_requeued(db, "c1", retry_at=50.0)
        cat.mark_capture_discarded(db, "c2", 4.0, "duplicate")
    with catalog.transaction() as db:
        # c1 is not due, its amendment waits for it, c2 is discarded.
        assert cat.lease_oldest_due(db, 10.0, 20.0) is None
        assert cat.lease_oldest_due(db, 50.0, 60.0)["item_id"] == "c1"
        cat.settle_delivered(db, "c1", 55.0, b"receipt")
        assert cat.lease_oldest_due(db, 56.0, 60.0)["item_id"] == "am"


def test_settlements(catalog):
    with catalog.transaction() as db:
        for item_id in ("d", "r", "q"):
            _capture(db, item_id)
        cat.lease_oldest_due(db, 1.0, 9.0)
        cat.settle_delivered(db, "d", 5.0, b"signed")
        cat.settle_rejected(db, "r", "422 refused")
        cat.settle_requeued(db, "q", retry_at=30.0)
    d, r, q = (catalog.item(i) for i in "drq")
    assert (d["state"], d["delivered_at"], d["receipt"], d["lease_until"]) == \
        ("delivered", 5.0, b"signed", None)
    assert (r["state"], r["reason"]) == ("rejected", "422 refused")
    assert (q["state"], q["retry_at"]) == ("queued", 30.0)
    assert catalog.counts() == {"delivered": 1, "rejected": 1, "queued": 1}
    assert catalog.pending_count() == 1


def test_the_digest_is_recorded_only_once(catalog):
    with catalog.transaction() as db:
        _capture(db, "a")
        cat.record_sha256(db, "a", "11" * 32)
        cat.record_sha256(db, "a", "22" * 32)
    assert catalog.item("a")["sha256"] == "11" * 32


def test_shredding_forgets_the_file_and_the_pseudonym(catalog):
    with catalog.transaction() as db:
        _capture(db, "kept")
        _capture(db, "shredded")
        cat.forget_file(db, "kept", 7.0)
        cat.mark_shredded(db, "shredded", 8.0)
    kept, shredded = catalog.capture("kept"), catalog.capture("shredded")
    assert (kept["file"], kept["shredded_at"], kept["pseudonym"]) == (None, 7.0, "p-1")
    assert (shredded["file"], shredded["shredded_at"], shredded["pseudonym"]) == \
        (None, 8.0, None)


def test_held_captures_leave_out_discarded_shredded_and_lost(catalog):
    with catalog.transaction() as db:
        for n, capture_id in enumerate(("held", "newer", "discarded", "shredded", "lost")):
            _capture(db, capture_id, created_at=float(n))
        cat.mark_capture_discarded(db, "discarded", 9.0, "duplicate")
        cat.mark_shredded(db, "shredded", 9.0)
        cat.mark_lost(db, "lost")
    assert [r["capture_id"] for r in catalog.held_captures()] == ["newer", "held"]
    assert catalog.is_discarded("discarded") and not catalog.is_discarded("held")
    assert catalog.item("lost")["state"] == "lost" and catalog.item("lost")["file"] is None


def test_discarding_a_capture_and_its_queued_amendments(catalog):
    with catalog.transaction() as db:
        _capture(db, "c")
        _item(db, "queued-am", kind="amendment", capture_id="c")
        _item(db, "sent-am", kind="amendment", capture_id="c")
        cat.settle_delivered(db, "sent-am", 2.0, b"r")
        cat.mark_capture_discarded(db, "c", 3.0, "wrong_patient")
        cat.discard_item(db, "c")
        cat.discard_queued_amendments(db, "c")
    assert catalog.capture("c")["discard_reason"] == "wrong_patient"
    assert [catalog.item(i)["state"] for i in ("c", "queued-am", "sent-am")] == \
        ["discarded", "discarded", "delivered"]
    assert [r["item_id"] for r in catalog.discarded_amendment_files("c")] == ["queued-am"]


def test_recovery_statements(catalog):
    with catalog.transaction() as db:
        _capture(db, "leased", created_at=0.0)  # the oldest: the one leased below
        _capture(db, "discarded")
        _capture(db, "delivered-of-discarded")
        _capture(db, "old")
        cat.lease_oldest_due(db, 1.0, 99.0)
        cat.mark_capture_discarded(db, "discarded", 2.0, "other")
        cat.settle_delivered(db, "delivered-of-discarded", 2.0, b"r")
        cat.mark_capture_discarded(db, "delivered-of-discarded", 3.0, "other")
        cat.settle_delivered(db, "old", 0.5, b"r")
    with catalog.transaction() as db:
        assert cat.release_all_leases(db) == 1
        assert cat.release_all_leases(db) == 0
        cat.discard_queued_of_discarded_captures(db)
    assert catalog.item("leased")["state"] == "queued"
    assert catalog.item("discarded")["state"] == "discarded"
    assert sorted(r["item_id"] for r in catalog.discard_leftovers()) == \
        ["delivered-of-discarded", "discarded"]
    assert [r["item_id"] for r in catalog.delivered_before(1.0)] == ["old"]
    files = catalog.files()
    assert set(files) == {"leased", "discarded", "delivered-of-discarded", "old"}
    assert files["old"] == {"item_id": "old", "file": "old.sealed", "size": 10,
                            "state": "delivered"}


def test_settings(catalog):
    assert catalog.get_setting("audit_offset", "0") == "0"
    with catalog.transaction() as db:
        cat.set_setting(db, "audit_offset", "42")
    with catalog.transaction() as db:
        cat.set_setting(db, "audit_offset", "43")
    assert catalog.get_setting("audit_offset") == "43"
    assert catalog.get_setting("schema_version") == str(cat.SCHEMA_VERSION)
