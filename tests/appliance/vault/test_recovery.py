"""Start-up recovery of every leftover an interrupted write, shred or discard can leave."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.vault import Vault, verify_audit_log
from sync import envelope as env

from .conftest import identifying_jpeg, metadata, sealed_metadata


def _open(paths, clock=None):
    kwargs = {"clock": clock} if clock else {}
    return Vault(paths, reserve_bytes=0, **kwargs)


def _events(paths) -> list[str]:
    return [json.loads(x)["event"] for x in paths.audit_log.read_text().splitlines()]


def test_temp_files_are_removed(vault, paths):
    vault.close()
    leftover = paths.captures / ".0189abcd.sealed.123.deadbeef.tmp"
    leftover.write_bytes(b"half a capture")
    with _open(paths) as again:
        assert not leftover.exists()
        assert again.recovery.temp_removed == 1


def test_leases_are_released(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    assert vault.lease_next(3600).item_id == record.capture_id
    vault.close()
    with _open(paths) as again:
        assert again.recovery.leases_released == 1
        assert again.lease_next(30).item_id == record.capture_id


def test_complete_orphan_of_this_station_is_adopted(vault, paths, practice):
    """Sealed and renamed, killed before the row committed: delivered anyway, not lost."""
    capture_id = "0189abcd-0000-7000-8000-000000000001"
    sealed = env.seal("capture", sealed_metadata(vault.station_id, capture_id),
                      {"image": b"\xff\xd8jpeg\xff\xd9", "preview": b"\xff\xd8p\xff\xd9"},
                      recipients=[practice.public_key()],
                      station_key=vault.identity.private_key, item_id=capture_id)
    vault.close()
    (paths.captures / f"{capture_id}.sealed").write_bytes(sealed)
    with _open(paths) as again:
        assert again.recovery.adopted == 1
        item = again.lease_next(30)
        assert item.item_id == capture_id and item.size == len(sealed)
        listed = again.list_captures(include_previous=True)
        assert [(c.capture_id, c.reviewable, c.pseudonym) for c in listed] == \
            [(capture_id, False, None)]
    assert "recovery.adopted" in _events(paths)


def test_foreign_or_damaged_files_are_quarantined(vault, paths):
    other_key = Ed25519PrivateKey.generate()
    other_id = "0189abcd-0000-7000-8000-000000000002"
    other_station = env.seal(
        "capture", sealed_metadata(env.station_of(other_key.public_key()), other_id),
        {"image": b"", "preview": b""},
        recipients=[X25519PrivateKey.generate().public_key()], station_key=other_key,
        item_id=other_id)
    vault.close()
    (paths.captures / "0189abcd-0000-7000-8000-000000000002.sealed").write_bytes(other_station)
    (paths.captures / "0189abcd-0000-7000-8000-000000000003.sealed").write_bytes(b"junk")
    with _open(paths) as again:
        assert again.recovery.damaged == 2
        assert again.pending_count() == 0
    assert sorted(p.name for p in (paths.captures / "damaged").iterdir()) == [
        "0189abcd-0000-7000-8000-000000000002.sealed",
        "0189abcd-0000-7000-8000-000000000003.sealed"]
    assert not list(paths.captures.glob("*.sealed"))
    assert _events(paths).count("error.recovery_damaged_file") == 2


def test_orphan_audit_batch_is_dropped_and_exported_again(vault, paths):
    batch = vault.queue_audit_batch()
    vault.catalog.db.execute("DELETE FROM items WHERE item_id = ?", [batch])
    vault.catalog.db.execute("DELETE FROM settings WHERE key = 'audit_offset'")
    vault.catalog.db.conn.commit()
    vault.close()
    with _open(paths) as again:
        assert not (paths.captures / f"{batch}.sealed").exists()
        assert again.recovery.leftovers_removed == 1
        assert again.queue_audit_batch() is not None


def test_missing_file_before_delivery_is_lost_and_audited(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.close()
    (paths.captures / f"{record.capture_id}.sealed").unlink()
    with _open(paths) as again:
        assert again.recovery.lost == 1
        assert again.catalog.item(record.capture_id)["state"] == "lost"
        assert again.pending_count() == 0 and again.lease_next(30) is None
    assert "error.recovery_file_missing" in _events(paths)


def test_interrupted_shred_is_completed(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.mark_delivered(vault.lease_next(30).item_id, b"receipt")
    vault.close()
    (paths.captures / f"{record.capture_id}.sealed").unlink()  # file gone, row not updated
    with _open(paths) as again:
        assert again.recovery.marked_shredded == 1
        row = again.catalog.capture(record.capture_id)
        assert row["file"] is None and row["shredded_at"] is not None
        assert row["pseudonym"] is None and row["state"] == "delivered"


def test_interrupted_discard_is_completed(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    # The catalog update of a discard committed, the file removal did not happen.
    with vault.catalog.transaction() as db:
        db.execute("UPDATE captures SET discarded_at = 1 WHERE capture_id = ?",
                   [record.capture_id])
        db.execute("UPDATE items SET state = 'discarded' WHERE item_id = ?",
                   [record.capture_id])
    vault.close()
    with _open(paths) as again:
        assert not (paths.captures / f"{record.capture_id}.sealed").exists()
        assert again.catalog.item(record.capture_id)["file"] is None
        assert again.recovery.leftovers_removed == 1


def test_size_mismatch_is_quarantined(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.close()
    path = paths.captures / f"{record.capture_id}.sealed"
    path.write_bytes(path.read_bytes()[:-5])
    with _open(paths) as again:
        assert again.recovery.damaged == 1
        assert again.catalog.item(record.capture_id)["state"] == "lost"
    assert (paths.captures / "damaged" / path.name).exists()


def test_recovery_is_idempotent_and_audited(vault, paths):
    vault.store_capture(identifying_jpeg(), metadata())
    vault.lease_next(30)
    vault.close()
    with _open(paths) as again:
        assert again.recovery.leases_released == 1
    with _open(paths) as third:
        assert third.recovery.nonzero() == {}
    assert verify_audit_log(paths.audit_log).ok
    started = [json.loads(x) for x in paths.audit_log.read_text().splitlines()
               if '"vault.started"' in x]
    assert started[1]["fields"]["recovered_leases_released"] == 1
