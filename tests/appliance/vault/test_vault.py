"""The vault end to end with real files, real SQLite and real envelopes."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import sqlite3
import stat
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PIL import Image

from appliance.paths import StatePaths
from appliance.vault import (
    DiskFullError,
    NotEnrolledError,
    NotReviewableError,
    UnknownCaptureError,
    Vault,
    VaultError,
    verify_audit_log,
)
from sync.envelope import EnvelopeError, key_id, read_header
from sync.outbox import Outbox

from .conftest import ISSUER, PATIENT, SECRETS, enrol, identifying_jpeg, metadata, opener


def _sealed_files(paths: StatePaths) -> list[str]:
    return sorted(p.name for p in paths.captures.iterdir() if p.is_file())


def _audit_events(paths: StatePaths) -> list[dict]:
    return [json.loads(line) for line in paths.audit_log.read_text().splitlines()]


def test_capture_refused_before_enrolment(paths):
    with Vault(paths, reserve_bytes=0) as vault:
        with pytest.raises(NotEnrolledError, match="station not enrolled"):
            vault.store_capture(identifying_jpeg(), metadata())
        assert _sealed_files(paths) == []
        assert vault.list_captures() == []
    failed = [e for e in _audit_events(paths) if e["event"] == "error.capture_failed"]
    assert [e["fields"] for e in failed] == [{"error": "NotEnrolledError"}]


def test_a_new_enrolment_takes_effect_at_the_next_capture(vault, paths, practice):
    open_envelope = opener(vault)
    """The practice key is cached, but never past a replaced or removed enrolment file."""
    first = vault.store_capture(identifying_jpeg(), metadata()).capture_id
    assert open_envelope(paths.captures / f"{first}.sealed", practice)
    new_practice = X25519PrivateKey.generate()
    enrol(paths, new_practice)  # provisioning replaces the file
    second = vault.store_capture(identifying_jpeg(), metadata()).capture_id
    assert open_envelope(paths.captures / f"{second}.sealed", new_practice)
    with pytest.raises(EnvelopeError):
        open_envelope(paths.captures / f"{second}.sealed", practice)
    paths.enrolment.unlink()
    with pytest.raises(NotEnrolledError, match="station not enrolled"):
        vault.store_capture(identifying_jpeg(), metadata())


def test_store_seals_to_practice_and_review(vault, paths, practice):
    open_envelope = opener(vault)
    jpeg = identifying_jpeg()
    record = vault.store_capture(jpeg, metadata())
    assert uuid.UUID(record.capture_id).version == 7
    path = paths.captures / f"{record.capture_id}.sealed"
    assert _sealed_files(paths) == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert record.size == len(data)
    # The transfer digest is left for the first lease (the uploader's thread), then kept.
    assert vault.catalog.item(record.capture_id)["sha256"] == ""
    item = vault.lease_next(60)
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert vault.catalog.item(record.capture_id)["sha256"] == item.sha256
    vault.release(item.item_id, retry_at=0)
    assert vault.lease_next(60).sha256 == item.sha256
    header = read_header(data)
    assert header.kind == "capture" and header.station_id == vault.station_id
    assert [kid for kid, _enc in header.recipients] == [key_id(practice.public_key()),
                                                        vault.review_kid]
    opened = open_envelope(data, practice)
    assert opened.metadata["patient_id"] == PATIENT
    assert opened.metadata["capture_id"] == record.capture_id
    assert opened.metadata["station_id"] == vault.station_id
    for secret in SECRETS:
        assert secret not in opened.image
    assert opened.metadata["captured_at"].startswith("2027-")  # from the vault's clock
    with Image.open(io.BytesIO(opened.image)) as image:
        assert image.getexif()[0x0112] == 6
    with Image.open(io.BytesIO(opened.preview)) as preview:
        assert max(preview.size) <= 320
    assert PATIENT.encode() not in data


def test_catalog_holds_a_keyed_pseudonym_only(vault, paths):
    a = vault.store_capture(identifying_jpeg(), metadata())
    b = vault.store_capture(identifying_jpeg(), metadata())
    c = vault.store_capture(identifying_jpeg(), metadata(patient="999"))
    assert a.pseudonym == b.pseudonym != c.pseudonym
    assert a.pseudonym.startswith("p-") and PATIENT not in a.pseudonym
    # Not a plain (unkeyed) hash of the id either.
    plain = hashlib.sha256(f"{ISSUER}\x00{PATIENT}".encode()).hexdigest()
    assert plain[:24] not in a.pseudonym
    rows = vault.catalog.query("SELECT pseudonym FROM captures")
    assert {r["pseudonym"] for r in rows} == {a.pseudonym, c.pseudonym}
    vault.close()
    with Vault(paths, reserve_bytes=0) as again:  # a new start, a new key
        d = again.store_capture(identifying_jpeg(), metadata())
        assert d.pseudonym != a.pseudonym


def test_database_is_wal_and_synchronous_full(vault):
    assert vault.catalog.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert vault.catalog.query("PRAGMA synchronous")[0]["synchronous"] == 2  # FULL
    assert vault.catalog.integrity_ok()


def test_database_and_its_wal_and_shm_are_owner_only(paths, practice):
    enrol(paths, practice)
    old = os.umask(0o022)  # what a service gets by default: files 0644 unless made 0600
    try:
        with Vault(paths, reserve_bytes=0) as vault:
            vault.store_capture(identifying_jpeg(), metadata())
            names = [paths.db.name + suffix for suffix in ("", "-wal", "-shm")]
            modes = {name: stat.S_IMODE((paths.root / name).stat().st_mode) for name in names}
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(names, 0o600)
    others = [p for p in paths.root.rglob("*")
              if p.is_file() and stat.S_IMODE(p.stat().st_mode) != 0o600]
    assert others == []  # every file of the state directory


def test_capture_and_outbox_rows_commit_together(vault, paths):
    """If the second insert fails, the first is rolled back and the sealed file removed."""
    vault.catalog.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON captures BEGIN "
        "SELECT RAISE(ABORT, 'refused by test'); END")
    with pytest.raises(VaultError, match="catalog refused"):
        vault.store_capture(identifying_jpeg(), metadata())
    assert vault.catalog.query("SELECT COUNT(*) AS n FROM items")[0]["n"] == 0
    assert _sealed_files(paths) == []


def test_bad_metadata_or_image_leaves_nothing(vault, paths):
    with pytest.raises(VaultError, match="metadata"):
        vault.store_capture(identifying_jpeg(), {"patient_id": "1", "when": object()})
    with pytest.raises(VaultError, match="needs 'issuer'"):
        vault.store_capture(identifying_jpeg(), {"patient_id": "1"})
    with pytest.raises(VaultError, match="JPEG"):
        vault.store_capture(b"not a jpeg", metadata())
    assert _sealed_files(paths) == []
    assert vault.pending_count() == 0


def test_reserve_refuses_with_typed_error_and_keeps_existing(paths, practice, still):
    enrol(paths, practice)
    with Vault(paths, reserve_bytes=0) as vault:
        kept = vault.store_capture(still, metadata())
        open_envelope = opener(vault)
    with Vault(paths, reserve_bytes=1 << 60) as vault:
        with pytest.raises(DiskFullError, match="reserve"):
            vault.store_capture(still, metadata())
        assert _sealed_files(paths) == [f"{kept.capture_id}.sealed"]
        assert open_envelope(paths.captures / f"{kept.capture_id}.sealed", practice)
        assert vault.pending_count() == 1


def test_one_vault_per_state_directory(vault, paths):
    with pytest.raises(VaultError, match="in use by another station process"):
        Vault(paths, reserve_bytes=0)


def test_review_lists_and_opens_this_starts_captures(vault, paths, clock):
    first = vault.store_capture(identifying_jpeg(), metadata())
    clock.advance(1)
    second = vault.store_capture(identifying_jpeg(), metadata(patient="2"))
    listed = vault.list_captures()
    assert [c.capture_id for c in listed] == [second.capture_id, first.capture_id]
    assert all(c.reviewable and c.state == "queued" for c in listed)
    review = vault.open_for_review(first.capture_id, operator="rev1")
    assert review.metadata["patient_id"] == PATIENT and review.image and review.preview
    small = vault.open_for_review(first.capture_id, preview_only=True)
    assert small.image == b"" and small.preview == review.preview
    views = [e for e in _audit_events(paths) if e["event"] == "capture.viewed"]
    assert [v["fields"]["part"] for v in views] == ["image", "preview"]
    assert views[0]["fields"]["operator"] == "rev1"
    with pytest.raises(UnknownCaptureError):
        vault.open_for_review(str(uuid.uuid4()))


def test_a_view_that_cannot_be_audited_is_not_shown(vault, paths, monkeypatch):
    stored = vault.store_capture(identifying_jpeg(), metadata())

    def full_disk(event, **fields):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vault.audit, "record", full_disk)
    with pytest.raises(VaultError, match="could not be recorded"):
        vault.open_for_review(stored.capture_id, operator="rev1")
    monkeypatch.undo()
    assert vault.open_for_review(stored.capture_id, operator="rev1").image


def test_after_restart_nothing_is_reviewable(vault, paths, practice):
    open_envelope = opener(vault)
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.close()
    with Vault(paths, reserve_bytes=0) as again:
        assert again.list_captures() == []
        previous = again.list_captures(include_previous=True)
        assert [(c.capture_id, c.reviewable) for c in previous] == [(record.capture_id, False)]
        with pytest.raises(NotReviewableError, match="before the station last started"):
            again.open_for_review(record.capture_id)
    # The practice can still open it.
    assert open_envelope(paths.captures / f"{record.capture_id}.sealed", practice)


def test_amend_queues_a_sealed_amendment(vault, paths, practice):
    open_envelope = opener(vault)
    record = vault.store_capture(identifying_jpeg(), metadata())
    amendment_id = vault.amend(record.capture_id, {"body_site": "knee"}, "rev1")
    opened = open_envelope(paths.captures / f"{amendment_id}.sealed", practice)
    assert opened.kind == "amendment" and opened.header.subject == record.capture_id
    assert opened.metadata["changes"] == {"body_site": "knee"}
    assert opened.metadata["operator"] == "rev1" and opened.metadata["retract"] is False
    assert vault.open_for_review(record.capture_id).metadata["body_site"] == "knee"
    with pytest.raises(VaultError, match="patient_id cannot be amended"):
        vault.amend(record.capture_id, {"patient_id": "other"}, "rev1")
    with pytest.raises(VaultError, match="provenance cannot be amended"):
        vault.amend(record.capture_id, {"provenance": "typed"}, "rev1")
    with pytest.raises(VaultError, match="amendment cannot be stored"):
        vault.amend(record.capture_id, {"emergency_override": "yes"}, "rev1")
    with pytest.raises(VaultError, match="at least one change"):
        vault.amend(record.capture_id, {}, "rev1")
    with pytest.raises(UnknownCaptureError):
        vault.amend(str(uuid.uuid4()), {"body_site": "arm"}, "rev1")
    assert vault.pending_count() == 2


def test_amendment_waits_for_its_capture(vault):
    record = vault.store_capture(identifying_jpeg(), metadata())
    amendment_id = vault.amend(record.capture_id, {"laterality": "right"}, "rev1")
    first = vault.lease_next(30)
    assert first.item_id == record.capture_id
    assert vault.lease_next(30) is None  # the amendment must not overtake its capture
    vault.mark_delivered(first.item_id, b"receipt")
    assert vault.lease_next(30).item_id == amendment_id


def test_discard_before_delivery_shreds_at_once(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    amendment = vault.amend(record.capture_id, {"body_site": "arm"}, "rev1")
    assert vault.discard(record.capture_id, "wrong_patient", "rev1") is None
    assert _sealed_files(paths) == []
    assert vault.lease_next(30) is None and vault.pending_count() == 0
    assert vault.list_captures() == []
    assert vault.catalog.item(amendment)["state"] == "discarded"
    with pytest.raises(NotReviewableError, match="discarded"):
        vault.open_for_review(record.capture_id)
    with pytest.raises(VaultError, match="discarded"):
        vault.amend(record.capture_id, {"body_site": "arm"}, "rev1")
    assert vault.discard(record.capture_id, "duplicate", "rev1") is None
    event = [e for e in _audit_events(paths) if e["event"] == "capture.discarded"][-1]
    assert event["fields"]["reason"] == "wrong_patient"


def test_discard_after_delivery_sends_a_retraction(vault, paths, practice):
    open_envelope = opener(vault)
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.mark_delivered(vault.lease_next(30).item_id, b"receipt")
    retraction = vault.discard(record.capture_id, "Patient asked: wrong arm", "rev1")
    assert retraction is not None
    assert _sealed_files(paths) == [f"{retraction}.sealed"]
    opened = open_envelope(paths.captures / f"{retraction}.sealed", practice)
    assert opened.metadata["retract"] is True
    assert opened.metadata["reason"] == "Patient asked: wrong arm"
    assert vault.lease_next(30).item_id == retraction
    event = [e for e in _audit_events(paths) if e["event"] == "capture.discarded"][-1]
    assert event["fields"]["reason"] == "other"  # free text stays sealed
    assert "wrong arm" not in paths.audit_log.read_text()


def test_discard_during_upload_waits_for_the_upload(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    leased = vault.lease_next(30)
    retraction = vault.discard(record.capture_id, "duplicate", "rev1")
    assert retraction is not None
    assert f"{record.capture_id}.sealed" in _sealed_files(paths)  # the uploader still reads it
    vault.release(leased.item_id, retry_at=0)
    assert f"{record.capture_id}.sealed" not in _sealed_files(paths)
    assert vault.catalog.item(record.capture_id)["state"] == "discarded"
    # A discarded capture whose upload then succeeds is shredded at once too.
    other = vault.store_capture(identifying_jpeg(), metadata())
    assert vault.lease_next(30).item_id == retraction
    leased = vault.lease_next(30)
    assert leased.item_id == other.capture_id
    vault.discard(other.capture_id, "duplicate", "rev1")
    vault.mark_delivered(other.capture_id, b"r")
    assert f"{other.capture_id}.sealed" not in _sealed_files(paths)


def test_vault_is_an_outbox(vault, clock):
    for name, method in vars(Outbox).items():
        if callable(method) and not name.startswith("_"):
            wanted = list(inspect.signature(method).parameters)[1:]
            assert list(inspect.signature(getattr(vault, name)).parameters)[:len(wanted)] == \
                wanted, name
    a = vault.store_capture(identifying_jpeg(), metadata())
    clock.advance(1)
    b = vault.store_capture(identifying_jpeg(), metadata())
    item = vault.lease_next(60)
    assert (item.item_id, item.kind, item.attempts) == (a.capture_id, "capture", 1)
    with vault.open_sealed(item) as stream:
        data = stream.read()
    assert len(data) == item.size and hashlib.sha256(data).hexdigest() == item.sha256
    assert vault.pending_count() == 2
    # A failed attempt is not retried before its time.
    vault.release(item.item_id, retry_at=clock.now + 100)
    assert vault.lease_next(60).item_id == b.capture_id
    assert vault.lease_next(60) is None
    clock.advance(61)  # b's lease expired: another attempt may take it
    again = vault.lease_next(60)
    assert (again.item_id, again.attempts) == (b.capture_id, 2)
    clock.advance(100)
    retried = vault.lease_next(60)
    assert (retried.item_id, retried.attempts) == (a.capture_id, 2)
    vault.mark_rejected(a.capture_id, "422 metadata refused")
    vault.mark_delivered(b.capture_id, b"receipt-b")
    vault.mark_delivered(b.capture_id, b"receipt-b")  # a repeat is harmless
    assert vault.counts() == {"rejected": 1, "delivered": 1}
    assert vault.pending_count() == 0
    assert vault.catalog.item(a.capture_id)["reason"] == "422 metadata refused"
    with pytest.raises(UnknownCaptureError):
        vault.mark_delivered(str(uuid.uuid4()), b"")


def test_shred_after_review_window_keeps_delivery_facts(vault, paths, clock):
    record = vault.store_capture(identifying_jpeg(), metadata())
    sealed_sha = hashlib.sha256(
        (paths.captures / f"{record.capture_id}.sealed").read_bytes()).hexdigest()
    vault.mark_delivered(vault.lease_next(30).item_id, b"signed-receipt")
    assert vault.shred_due() == 0
    clock.advance(3599)
    assert vault.shred_due() == 0
    assert vault.open_for_review(record.capture_id).image
    clock.advance(2)
    assert vault.shred_due() == 1
    assert _sealed_files(paths) == []
    row = vault.catalog.capture(record.capture_id)
    assert row["file"] is None and row["pseudonym"] is None
    assert row["sha256"] == sealed_sha and row["state"] == "delivered"
    assert vault.catalog.item(record.capture_id)["receipt"] == b"signed-receipt"
    with pytest.raises(NotReviewableError, match="shredded"):
        vault.open_for_review(record.capture_id)
    assert "item.shredded" in {e["event"] for e in _audit_events(paths)}
    assert vault.shred_due() == 0


def test_undelivered_captures_are_never_shredded(vault, paths, clock):
    vault.store_capture(identifying_jpeg(), metadata())
    clock.advance(10 * 24 * 3600)
    assert vault.shred_due() == 0
    assert len(_sealed_files(paths)) == 1


def test_audit_lines_are_exported_sealed(vault, paths, practice):
    open_envelope = opener(vault)
    vault.store_capture(identifying_jpeg(), metadata())
    batch = vault.queue_audit_batch()
    opened = open_envelope(paths.captures / f"{batch}.sealed", practice)
    assert opened.kind == "audit"
    lines = paths.audit_log.read_bytes()
    assert opened.records == lines
    assert opened.metadata["first_seq"] == 1
    assert opened.metadata["last_seq"] == len(lines.splitlines())
    assert vault.queue_audit_batch() is None  # nothing new
    vault.mark_delivered(vault.lease_next(30).item_id, b"r")
    item = vault.lease_next(30)
    assert item.item_id == batch
    vault.mark_delivered(batch, b"r")
    assert vault.queue_audit_batch() is not None  # the capture's delivery was audited
    assert vault.tick()["audit_batch"] is None  # and delivering audit batches is not


def test_audit_never_holds_the_patient_id(vault, paths):
    record = vault.store_capture(identifying_jpeg(), metadata())
    vault.open_for_review(record.capture_id, operator="rev1")
    vault.amend(record.capture_id, {"body_site": "knee"}, "rev1")
    vault.discard(record.capture_id, "wrong_patient", "rev1")
    text = paths.audit_log.read_text()
    assert PATIENT not in text and ISSUER not in text
    events = [e["event"] for e in _audit_events(paths)]
    for event in ("vault.started", "capture.stored", "capture.viewed", "capture.amended",
                  "capture.discarded"):
        assert event in events
    assert verify_audit_log(paths.audit_log).ok


def test_from_config_uses_the_vault_keys(tmp_path, practice):
    from appliance.config import load_config

    config_file = tmp_path / "station.toml"
    config_file.write_text(
        f'[station]\nstate_dir = "{tmp_path / "st"}"\n'
        "[vault]\nreserve_mb = 16\nreview_window_hours = 2.5\nlease_seconds = 45\n")
    cfg = load_config(config_file, environ={})
    with Vault.from_config(cfg) as vault:
        assert vault.reserve_bytes == 16 * 1024 * 1024
        assert vault.review_window_seconds == 2.5 * 3600
        assert vault.lease_seconds == 45
        assert vault.paths.root == tmp_path / "st"


def test_catalog_survives_a_foreign_reader(vault, paths):
    """Another connection (an admin's sqlite3 shell) sees committed rows only."""
    record = vault.store_capture(identifying_jpeg(), metadata())
    conn = sqlite3.connect(paths.db)
    try:
        rows = conn.execute("SELECT item_id, state FROM items").fetchall()
    finally:
        conn.close()
    assert rows == [(record.capture_id, "queued")]


def test_retry_times_follow_a_clock_step_and_are_capped(vault, clock, still):
    """The outbox side of a wall-clock step: retry times move with it (each keeps its own
    delay), none stays later than the cap, and leases in flight move too."""
    first = vault.store_capture(still, metadata()).capture_id
    second = vault.store_capture(still, metadata()).capture_id
    vault.release(vault.lease_next(60).item_id, clock.now + 4)  # first: retry in 4 s
    vault.release(vault.lease_next(60).item_id, clock.now + 86400)  # second: a day out
    clock.advance(-3600)  # the clock stepped back an hour
    vault.reschedule(-3600, clock.now + 300)
    assert vault.catalog.item(first)["retry_at"] == pytest.approx(clock.now + 4)
    assert vault.catalog.item(second)["retry_at"] == pytest.approx(clock.now + 300)
    assert vault.lease_next(60) is None
    clock.advance(4)
    leased = vault.lease_next(60)
    assert leased.item_id == first
    vault.reschedule(-100, clock.now + 300)
    assert vault.catalog.item(first)["lease_until"] == pytest.approx(clock.now + 60 - 100)
