"""Documents in the patient file: filed as the station's PDF with page thumbnails rendered
at filing, shown with their pages, opened (and recorded) like a photo, linked from the
captures of the session whose consent form they are, retracted and amended like a photo."""

from __future__ import annotations

import io
import json

from PIL import Image

from practice.patientfile import rebuild
from tests.practice.documents import station_pdf

from .conftest import GSRN


def _signed_in(rig, name="cleo"):
    browser = rig.client()
    browser.login(name)
    return browser


def _files(rig, pattern):
    return sorted(p.name for p in rig.data_dir.rglob(pattern))


def test_a_document_is_filed_as_its_pdf_with_a_thumbnail_per_page(rig):
    pdf = station_pdf()
    doc = rig.document(pdf=pdf)
    cap = rig.index.capture(doc).capture
    assert cap.kind == "document" and cap.document_type == "consent-form" and cap.pages == 2
    assert (rig.data_dir / cap.file_path).read_bytes() == pdf
    sidecar = json.loads((rig.data_dir / cap.sidecar_path).read_text())
    assert sidecar["document_type"] == "consent-form" and sidecar["pages"] == 2
    assert sidecar["page_thumbs"] == [f"2026-01-01_{doc}.page-1.thumb.jpg",
                                      f"2026-01-01_{doc}.page-2.thumb.jpg"]
    bars = []
    for path in cap.page_thumb_paths:
        with Image.open(rig.data_dir / path) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) == 320
            assert thumb.size[1] > thumb.size[0]  # an A4 page, upright
            column = [thumb.convert("L").getpixel((thumb.size[0] // 2, y))
                      for y in range(thumb.size[1])]
            bars.append(sum(1 for v in column if v < 128))
    assert bars[1] > bars[0] > 0  # each thumbnail shows its own page (page 2's bar is taller)
    # the index is a cache: rebuilt from disk, the pages are still there
    assert rebuild(rig.index) == 1
    assert rig.index.capture(doc).capture.page_thumb_paths == cap.page_thumb_paths


def test_the_patient_file_shows_the_document_with_its_pages(rig):
    doc = rig.document()
    browser = _signed_in(rig)
    page = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert "Consent form · 2 pages" in page
    assert f"/captures/{doc}/pages/1" in page  # the tile shows the first page
    detail = browser.get(f"/captures/{doc}").get_data(as_text=True)
    assert f"/captures/{doc}/pages/1" in detail and f"/captures/{doc}/pages/2" in detail
    assert f'href="/captures/{doc}/pdf"' in detail and "Open the PDF" in detail
    before = len(rig.audit_events())
    thumb = browser.get(f"/captures/{doc}/pages/2")  # named by the recorded page view
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert len(rig.audit_events()) == before
    assert browser.get(f"/captures/{doc}/pages/3").status_code == 404


def test_opening_the_pdf_is_recorded_first_and_serves_the_stations_bytes(rig):
    pdf = station_pdf()
    doc = rig.document(pdf=pdf)
    browser = _signed_in(rig)
    response = browser.get(f"/captures/{doc}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == pdf
    [opened] = rig.events("document.opened")
    assert opened["capture_id"] == doc and opened["patient_ref"] == rig.ref()
    assert GSRN not in rig.audit.path.read_text()
    # a page thumbnail not named by a recorded page is recorded on its own
    other = _signed_in(rig, "rex")
    assert other.get(f"/captures/{doc}/pages/1").status_code == 200
    assert rig.events("document.page_viewed")[-1]["page"] == 1
    # a photo has no PDF, a document no full-resolution image
    photo = rig.file()
    assert browser.get(f"/captures/{photo}/pdf").status_code == 404
    assert browser.get(f"/captures/{doc}/image").status_code == 404


def test_opening_fails_closed_when_the_audit_log_cannot_record(rig, monkeypatch):
    doc = rig.document()
    browser = _signed_in(rig)

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rig.audit, "record", broken)
    rig.app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page
    response = browser.get(f"/captures/{doc}/pdf")
    assert response.status_code == 500 and b"%PDF" not in response.data


def test_a_capture_with_a_signed_consent_form_links_to_it(rig):
    doc = rig.document()
    photo = rig.file(consent_form=doc)
    waiting = rig.file(consent_form="01930000-0000-7000-8000-000000000000", sequence=2)
    browser = _signed_in(rig)
    detail = browser.get(f"/captures/{photo}").get_data(as_text=True)
    assert "signed consent form on file" in detail
    assert f'href="/captures/{doc}"' in detail
    tiles = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert tiles.count("signed consent form on file") == 2
    pending = browser.get(f"/captures/{waiting}").get_data(as_text=True)
    assert "the scanned form has not arrived yet" in pending


def test_a_document_is_amended_and_retracted_like_a_photo(rig):
    doc = rig.document()
    rig.amend(doc, {"note": "second page signed by the guardian"})
    browser = _signed_in(rig)
    assert "second page signed by the guardian" in browser.get(
        f"/captures/{doc}").get_data(as_text=True)
    rig.retract(doc, reason="wrong_patient")
    inbox_left = [p.name for p in (rig.data_dir / "inbox").rglob(f"*{doc}*")]
    assert inbox_left == []  # PDF, page thumbnails, history, sidecar: all moved
    assert _files(rig, f"*{doc}.page-*.thumb.jpg.retracted") == [
        f"2026-01-01_{doc}.page-1.thumb.jpg.retracted",
        f"2026-01-01_{doc}.page-2.thumb.jpg.retracted"]
    assert _files(rig, f"*{doc}.pdf.retracted") == [f"2026-01-01_{doc}.pdf.retracted"]
    for path in (f"/captures/{doc}", f"/captures/{doc}/pdf", f"/captures/{doc}/pages/1"):
        assert browser.get(path).status_code == 404  # a clinician does not see it
    records = _signed_in(rig, "rex")
    assert records.get(f"/captures/{doc}/pages/1").status_code == 200
    pdf = records.get(f"/captures/{doc}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    with Image.open(io.BytesIO(records.get(f"/captures/{doc}/pages/2").data)) as page:
        assert page.format == "JPEG"
