"""A ``kind: document`` envelope, sealed like a station seals it, uploaded over TLS to the real
receiver: filed as the station's PDF with its sidecar and page thumbnails, indexed, linked
from the session's captures as their signed consent form, retracted like a photo."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.sync.helpers import new_station, seal_amendment, seal_capture

from .documents import seal_document, station_pdf

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def test_a_sealed_document_is_filed_with_pages_and_linked_and_retracted(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    pdf = station_pdf()
    doc_id, sealed = seal_document(receiver.keys.practice_public, station, pdf,
                                   session_id="sess-9")
    assert receiver.put(station, "document", doc_id, sealed).status == 201
    capture_id, sealed, _ = seal_capture(receiver.keys, station, session_id="sess-9",
                                         consent_form=doc_id)
    assert receiver.put(station, "capture", capture_id, sealed).status == 201

    folder = receiver.data_dir / "inbox" / "GSRN-8018" / "000123456"
    stem = f"2025-03-04_{doc_id}"
    assert (folder / f"{stem}.pdf").read_bytes() == pdf
    sidecar = json.loads((folder / f"{stem}.json").read_text())
    assert (sidecar["kind"], sidecar["document_type"], sidecar["pages"]) == (
        "document", "consent-form", 2)
    assert sidecar["image_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert sidecar["station_id"] == station.station_id
    assert sidecar["page_thumbs"] == [f"{stem}.page-1.thumb.jpg", f"{stem}.page-2.thumb.jpg"]
    assert all((folder / name).stat().st_size > 0 for name in sidecar["page_thumbs"])

    index = receiver.app.index
    assert index.capture(doc_id).capture.document_type == "consent-form"
    assert index.capture(capture_id).capture.consent_form == doc_id
    summary = index.patient_by_ref(index.pseudonyms.ref("GSRN-8018", "000123456"))
    assert (summary.captures, summary.documents) == (1, 1)

    retraction_id, sealed = seal_amendment(receiver.keys, station, doc_id, retract=True)
    assert receiver.put(station, "amendment", retraction_id, sealed).status == 201
    assert sorted(p.name for p in folder.iterdir() if doc_id in p.name) == []
    quarantine = receiver.data_dir / "retracted" / "GSRN-8018" / "000123456"
    assert (quarantine / f"{stem}.pdf.retracted").read_bytes() == pdf
    assert (quarantine / f"{stem}.page-2.thumb.jpg.retracted").exists()
    assert index.capture(doc_id).capture.state == "retracted"
