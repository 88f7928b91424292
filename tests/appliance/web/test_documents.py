"""Document mode in the station UI: start, retake and end a document through the real
workflow; a sealed document reviewed as page thumbnails from its PDF, and discarded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from appliance.workflow import (
    Click,
    DocumentAction,
    DocumentFinished,
    PageFinished,
    PatientSeen,
    TakePage,
)
from documents import page_preview, pages_to_pdf
from tests.documents.corpus import sample_pages

from .conftest import PATIENT


@pytest.fixture(scope="module")
def scanned():
    return list(sample_pages())


def store_document(rig, scanned):
    pdf = pages_to_pdf([p.kept() for p in scanned])
    metadata = {"patient_id": PATIENT.id, "issuer": PATIENT.issuer, "operator": "nina",
                "provenance": "scanned-gs1", "document_type": "referral",
                "pages": len(scanned), "captured_at": "2026-01-01T10:00:00+00:00"}
    return rig.vault.store_document(pdf, metadata, preview=page_preview(scanned[0].image))


def test_a_document_is_started_retaken_and_ended_from_the_tags_page(rig):
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    # the status page reloads every few seconds: it links the form, the tags page holds it
    assert "Scan a document" in html and 'value="consent-form"' not in html
    assert "Signed consent form" in html and "none scanned" in html
    html = browser.get("/session/tags").get_data(as_text=True)
    assert "Scan a document" in html and 'value="consent-form"' in html
    assert "Retake last page" not in html
    response = browser.post("/session/document", {"action": "start",
                                                  "document_type": "consent-form"})
    assert "notice=document" in response.headers["Location"]
    assert rig.events[-1] == DocumentAction("consent-form", "web")
    html = browser.get("/").get_data(as_text=True)
    assert "consent form: 0 of at most 20 pages" in html
    assert "Retake last page" in browser.get("/session/tags").get_data(as_text=True)
    # a page, taken by the capture button, as the runtime would answer
    (take,) = [e for e in rig.workflow.handle(Click(), rig.clock()) if isinstance(e, TakePage)]
    rig.workflow.handle(PageFinished(take.request_id), rig.clock())
    assert "1 of at most 20 pages" in browser.get("/").get_data(as_text=True)
    browser.post("/session/document", {"action": "retake"})
    assert rig.workflow.session.document.pages == 0
    (take,) = [e for e in rig.workflow.handle(Click(), rig.clock()) if isinstance(e, TakePage)]
    rig.workflow.handle(PageFinished(take.request_id), rig.clock())
    browser.post("/session/document", {"action": "end"})
    request_id = rig.workflow.session.closing  # the document is being sealed
    assert request_id is not None and rig.workflow.session.document is None
    rig.workflow.handle(DocumentFinished(request_id, "0190f0c8-0000-7000-8000-000000000001"),
                        rig.clock())
    html = browser.get("/").get_data(as_text=True)
    assert "on file (scanned this session)" in html
    audit = [e["fields"] for e in rig.audit_events() if e["event"] == "web.document"]
    assert [a["action"] for a in audit] == ["consent-form", "retake", "end"]


def test_document_actions_are_checked(rig):
    browser = rig.client()
    browser.login("nina")
    # no session: the workflow refuses, the nurse is told
    response = browser.post("/session/document", {"action": "start", "document_type": "sketch"})
    assert "refused=no_patient" in response.headers["Location"]
    assert browser.post("/session/document", {"action": "start",
                                              "document_type": "poster"}).status_code == 400
    assert browser.post("/session/document", {"action": "sketch"}).status_code == 400


def test_the_review_page_shows_every_page_of_a_document(rig, scanned):
    record = store_document(rig, scanned)
    browser = rig.client()
    browser.login("nina")
    queue = browser.get("/review").get_data(as_text=True)
    assert f"/captures/{record.capture_id}/preview" in queue and "document" in queue
    html = browser.get(f"/captures/{record.capture_id}").get_data(as_text=True)
    assert "referral" in html and PATIENT.id in html
    for n in (1, 2):
        assert f"/captures/{record.capture_id}/pages/{n}" in html
        thumb = browser.get(f"/captures/{record.capture_id}/pages/{n}")
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        assert thumb.headers["Cache-Control"] == "no-store"
        with Image.open(io.BytesIO(thumb.data)) as image:
            assert max(image.size) == 320
    assert browser.get(f"/captures/{record.capture_id}/pages/3").status_code == 404
    pdf = browser.get(f"/captures/{record.capture_id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")
    assert browser.get(f"/captures/{record.capture_id}/image").status_code == 404
    # one recorded view for the page; its page thumbnails and its PDF are covered by it
    views = [e["fields"]["part"] for e in rig.audit_events() if e["event"] == "capture.viewed"]
    assert views == ["page"]


def test_a_pdf_opened_without_its_page_is_recorded_on_its_own(rig, scanned):
    record = store_document(rig, scanned)
    browser = rig.client()
    browser.login("nina")
    assert browser.get(f"/captures/{record.capture_id}/pages/1").status_code == 200
    assert browser.get(f"/captures/{record.capture_id}/pdf").status_code == 200
    views = [e["fields"]["part"] for e in rig.audit_events() if e["event"] == "capture.viewed"]
    assert views == ["pdf", "pdf"]


def test_a_photo_has_no_pages_or_pdf(rig):
    capture = rig.capture()
    browser = rig.client()
    browser.login("nina")
    assert browser.get(f"/captures/{capture}/pdf").status_code == 404
    assert browser.get(f"/captures/{capture}/pages/1").status_code == 404
    assert "Discard photo" in browser.get(f"/captures/{capture}").get_data(as_text=True)


def test_a_document_is_discarded_like_a_photo(rig, scanned):
    record = store_document(rig, scanned)
    browser = rig.client()
    browser.login("nina")
    html = browser.get(f"/captures/{record.capture_id}").get_data(as_text=True)
    assert "Discard document" in html and "Not sent yet" in html
    response = browser.post(f"/captures/{record.capture_id}/discard",
                            {"reason": "poor_quality", "confirm": "yes"})
    assert "notice=shredded" in response.headers["Location"]
    assert not (rig.paths.captures / f"{record.capture_id}.sealed").exists()
    assert browser.get(f"/captures/{record.capture_id}").status_code == 404
