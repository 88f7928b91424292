"""Scanned documents in the vault: sealed as ``kind: document`` to the practice and this start's
review key, listed, reviewed and discarded like photos, adopted by recovery like photos."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from appliance.vault import Vault, VaultError
from documents import page_count, page_preview, pages_to_pdf
from tests.appliance.vault.conftest import PATIENT, enrol, metadata, opener
from tests.appliance.vault.plaintext import assert_no_plaintext
from tests.documents.corpus import sample_pages


@pytest.fixture(scope="module")
def scanned():
    return list(sample_pages())


@pytest.fixture(scope="module")
def pdf(scanned):
    return pages_to_pdf([p.kept() for p in scanned])


@pytest.fixture(scope="module")
def preview(scanned):
    return page_preview(scanned[0].image)


def document_metadata(**extra):
    meta = metadata(document_type="referral", pages=2, **extra)
    del meta["body_site"], meta["laterality"]
    return meta


def test_a_document_is_sealed_to_the_practice_with_its_metadata(vault, paths, practice, pdf,
                                                                 preview):
    record = vault.store_document(pdf, document_metadata(), preview=preview)
    opened = opener(vault)(paths.captures / f"{record.capture_id}.sealed", practice)
    assert opened.kind == "document"
    assert opened.raw.parts["pdf"] == pdf and opened.preview == preview
    m = opened.metadata
    assert m["capture_id"] == record.capture_id and m["station_id"] == vault.station_id
    assert m["patient_id"] == PATIENT and m["document_type"] == "referral" and m["pages"] == 2
    assert page_count(opened.raw.parts["pdf"]) == 2
    assert vault.catalog.item(record.capture_id)["kind"] == "document"
    assert_no_plaintext(paths.root, [PATIENT.encode()])


def test_a_document_is_listed_and_reviewed_with_its_pdf(vault, pdf, preview):
    record = vault.store_document(pdf, document_metadata(), preview=preview)
    (summary,) = vault.list_captures()
    assert summary.kind == "document" and summary.reviewable
    opened = vault.open_for_review(record.capture_id, operator="nurse1")
    assert opened.kind == "document" and opened.pdf == pdf and opened.image == b""
    assert opened.metadata["pages"] == 2
    light = vault.open_for_review(record.capture_id, preview_only=True)
    assert light.pdf == b"" and light.preview == preview
    with Image.open(io.BytesIO(light.preview)) as image:
        assert image.format == "JPEG"


def test_a_document_is_discarded_like_a_photo(vault, paths, practice, pdf, preview):
    kept = vault.store_document(pdf, document_metadata(), preview=preview)
    assert vault.discard(kept.capture_id, "poor_quality", "nurse1") is None  # never sent
    assert not (paths.captures / f"{kept.capture_id}.sealed").exists()
    sent = vault.store_document(pdf, document_metadata(), preview=preview)
    vault.mark_delivered(vault.lease_next(30).item_id, b"receipt")
    retraction = vault.discard(sent.capture_id, "wrong_patient", "rev1")
    opened = opener(vault)(paths.captures / f"{retraction}.sealed", practice)
    assert opened.metadata["retract"] is True and opened.metadata["amends"] == sent.capture_id
    assert vault.list_captures() == []


def test_a_document_being_uploaded_when_discarded_is_shredded_after(vault, paths, pdf, preview):
    record = vault.store_document(pdf, document_metadata(), preview=preview)
    leased = vault.lease_next(30)
    assert leased.kind == "document"
    vault.discard(record.capture_id, "duplicate", "rev1")
    vault.release(leased.item_id, retry_at=0)
    assert not (paths.captures / f"{record.capture_id}.sealed").exists()


def test_not_a_pdf_or_bad_metadata_leaves_nothing(vault, paths, pdf, preview):
    with pytest.raises(VaultError, match="PDF"):
        vault.store_document(b"\xff\xd8\xff", document_metadata(), preview=preview)
    with pytest.raises(VaultError, match="sealed"):
        vault.store_document(pdf, {**document_metadata(), "pages": "two"}, preview=preview)
    assert os.listdir(paths.captures) == []


def test_recovery_adopts_an_orphan_document_as_a_capture_row(paths, practice, pdf, preview):
    enrol(paths, practice)
    with Vault(paths, reserve_bytes=0) as vault:
        record = vault.store_document(pdf, document_metadata(), preview=preview)
        station = vault.station_id
        with vault.catalog.transaction() as db:  # as if the row never committed
            db.execute("DELETE FROM captures WHERE capture_id = ?", (record.capture_id,))
            db.execute("DELETE FROM items WHERE item_id = ?", (record.capture_id,))
    with Vault(paths, reserve_bytes=0) as vault:
        assert vault.recovery.adopted == 1 and vault.station_id == station
        assert vault.catalog.capture(record.capture_id)["kind"] == "document"
        (summary,) = vault.list_captures(include_previous=True)
        assert summary.kind == "document" and not summary.reviewable
