"""Nothing readable at rest after a realistic session, and a full disk refuses captures cleanly."""

from __future__ import annotations

import os
import shutil

import pytest

from appliance.paths import StatePaths
from appliance.vault import DiskFullError, Vault, verify_audit_log
from capture.fake import FakeCamera

from .conftest import enrol, identifying_jpeg, metadata, opener
from .plaintext import assert_no_plaintext, findings, jpeg_offsets

PATIENTS = ["7788990011223344", "MRN-00424242"]


def test_the_scanner_finds_what_it_must(tmp_path, still):
    """The scan is only worth something if it sees plaintext when it is there."""
    (tmp_path / "a.bin").write_bytes(b"xx" + still + b"yy")
    (tmp_path / "b.bin").write_bytes(b"..\x89PNG\r\n\x1a\n..")
    (tmp_path / "c.bin").write_bytes(identifying_jpeg())
    (tmp_path / "d.bin").write_bytes("id 7788990011223344".encode("utf-16-le"))
    (tmp_path / "e.bin").write_bytes(os.urandom(1 << 20))
    found = set(findings(tmp_path, [PATIENTS[0].encode()]))
    assert (str(tmp_path / "a.bin"), "JPEG") in found
    assert (str(tmp_path / "b.bin"), "PNG") in found
    assert (str(tmp_path / "c.bin"), "EXIF") in found
    assert (str(tmp_path / "d.bin"), f"identifier {PATIENTS[0].encode()!r}") in found
    assert not [f for f in found if f[0].endswith("e.bin")]
    assert jpeg_offsets(b"\xff\xd8\xff\x00\x00") == []


def test_no_plaintext_under_the_state_directory_after_a_session(paths, practice, clock):
    enrol(paths, practice)
    camera = FakeCamera(still_size=(1640, 1232))
    camera.start()
    with Vault(paths, reserve_bytes=0, clock=clock, review_window_seconds=60.0) as vault:
        ids = []
        for n in range(6):
            jpeg = camera.capture_jpeg() if n % 2 else identifying_jpeg()
            ids.append(vault.store_capture(jpeg, metadata(patient=PATIENTS[n % 2])).capture_id)
        for capture_id in ids[:3]:
            vault.open_for_review(capture_id, operator="rev")
        vault.amend(ids[0], {"operator": "rev-2"}, "rev")
        vault.discard(ids[1], "wrong_patient", "rev")
        for _ in range(3):
            item = vault.lease_next(30)
            vault.mark_delivered(item.item_id, b"receipt")
        vault.discard(ids[0], f"mixed up with {PATIENTS[1]}", "rev")
        clock.advance(120)
        vault.tick()
        vault.queue_audit_batch()
    camera.close()
    # Sanity: what is still held opens to real images, so the scan looks at real ciphertext.
    sealed = sorted(paths.captures.glob("*.sealed"))
    assert len(sealed) >= 3
    open_envelope = opener(vault)
    images = [open_envelope(p, practice).image for p in sealed]
    assert any(jpeg_offsets(image) for image in images)
    assert_no_plaintext(paths.root, [p.encode() for p in PATIENTS])
    assert verify_audit_log(paths.audit_log).ok


def _capture(size=(1200, 900)) -> bytes:
    return identifying_jpeg(size=size)


@pytest.mark.root
def test_full_disk_refuses_captures_cleanly(small_disk, practice):
    paths = StatePaths(small_disk / "state")
    enrol(paths, practice)
    jpeg = _capture()
    stored: list[str] = []
    with Vault(paths, reserve_bytes=0) as vault:
        with pytest.raises(DiskFullError):
            for _ in range(200):
                stored.append(vault.store_capture(jpeg, metadata()).capture_id)
        assert len(stored) >= 3
        # Further attempts keep failing with the typed error, and leave nothing behind.
        for _ in range(3):
            with pytest.raises(DiskFullError):
                vault.store_capture(jpeg, metadata())
        assert not [n for n in os.listdir(paths.captures) if n.endswith(".tmp")]
        assert vault.catalog.integrity_ok()
        assert vault.pending_count() == len(stored)
        held = sorted(p.name.removesuffix(".sealed") for p in paths.captures.glob("*.sealed"))
        assert held == sorted(stored)
        open_envelope = opener(vault)
        for capture_id in stored:
            opened = open_envelope(paths.captures / f"{capture_id}.sealed", practice)
            assert opened.metadata["capture_id"] == capture_id
        # Delivering and shredding makes room again.
        for _ in range(len(stored)):
            vault.mark_delivered(vault.lease_next(30).item_id, b"r")
        vault.review_window_seconds = 0
        assert vault.shred_due() == len(stored)
        vault.store_capture(jpeg, metadata())
    with Vault(paths, reserve_bytes=0) as again:  # a restart after all that is clean
        assert again.recovery.nonzero() == {}
        assert again.catalog.integrity_ok()
    assert verify_audit_log(paths.audit_log).ok


@pytest.mark.root
def test_reserve_on_a_real_small_disk(small_disk, practice):
    paths = StatePaths(small_disk / "state")
    enrol(paths, practice)
    with Vault(paths, reserve_bytes=1024 * 1024) as vault:
        kept = vault.store_capture(_capture((200, 150)), metadata()).capture_id
        free = shutil.disk_usage(small_disk).free
        vault.reserve_bytes = free - 64 * 1024  # the next capture would eat into the reserve
        with pytest.raises(DiskFullError, match="reserve"):
            vault.store_capture(_capture((200, 150)), metadata())
        # Refused before writing: at most the audit line about the refusal was added.
        assert free - shutil.disk_usage(small_disk).free <= 8192
        assert not [n for n in os.listdir(paths.captures) if n.endswith(".tmp")]
        assert [p.name for p in paths.captures.glob("*.sealed")] == [f"{kept}.sealed"]
        assert opener(vault)(paths.captures / f"{kept}.sealed", practice)
        assert vault.pending_count() == 1
