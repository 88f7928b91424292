"""What clinicians, records officers and admins see and may do, on real filed captures."""

from __future__ import annotations

import io
import zipfile

import pytest

from .conftest import GSRN

WRISTBAND_HRI = f"(8018){GSRN}(8019)2611270001"
WRISTBAND_RAW = f"]d28018{GSRN}\x1d80192611270001"


def _signed_in(rig, name="cleo"):
    browser = rig.client()
    browser.login(name)
    return browser


@pytest.mark.parametrize("typed", [WRISTBAND_HRI, WRISTBAND_RAW, GSRN])
def test_a_scanned_wristband_or_typed_id_opens_the_patient(rig, typed):
    rig.file()
    browser = _signed_in(rig)
    response = browser.post("/search", {"q": typed})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/patients/{rig.ref()}"
    searched = rig.events("patient.searched")[-1]
    assert searched["results"] == 1 and searched["patient_refs"] == [rig.ref()]
    assert GSRN not in rig.audit.path.read_text()  # the log never holds the identifier


def test_search_by_id_with_issuer_and_prefix_lists_patients(rig):
    rig.file()
    rig.file(patient_id="A-1001", issuer="MRN-NORTH")
    rig.file(patient_id="A-1002", issuer="MRN-NORTH")
    browser = _signed_in(rig)
    response = browser.post("/search", {"q": "A-100"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "A-1001" in page and "A-1002" in page
    response = browser.post("/search", {"q": "A-1001", "issuer": "MRN-NORTH"})
    assert response.headers["Location"] == f"/patients/{rig.ref('A-1001', 'MRN-NORTH')}"
    assert "A-1001" not in rig.audit.path.read_text()


def test_a_staff_badge_is_not_searched(rig):
    browser = _signed_in(rig)
    page = browser.post("/search", {"q": "nothing-filed-here"}).get_data(as_text=True)
    assert "No patient with that id" in page


def test_patient_file_shows_current_tags_history_and_local_time(rig):
    first = rig.file(captured_at="2026-01-01T10:00:00+00:00", clock_synced=False)
    second = rig.file(captured_at="2026-01-02T09:30:00+00:00", body_site="knee",
                      laterality="right", encounter="2611270001")
    rig.amend(second, {"consent": "publication", "note": "healing well"}, operator="rita")
    browser = _signed_in(rig)
    page = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert page.index(second) < page.index(first)  # newest first
    assert "Encounter 2611270001" in page and "knee, right" in page and "hand, left" in page
    assert "2026-01-01 11:00 CET" in page  # the practice's zone (Europe/Berlin)
    assert "clock not synced" in page and "healing well" in page and "room 3" in page
    detail = browser.get(f"/captures/{second}").get_data(as_text=True)
    assert "rita" in detail and "publication" in detail and "(was teaching)" in detail
    viewed = rig.events("patient.viewed")[-1]
    assert viewed["patient_ref"] == rig.ref() and viewed["items"] == 2 and viewed["by"] == "cleo"


def test_thumbnails_named_by_a_recorded_page_view_cost_no_extra_event(rig):
    cid = rig.file()
    browser = _signed_in(rig)
    assert browser.get(f"/captures/{cid}/thumb").status_code == 200  # not granted yet
    assert len(rig.events("capture.thumbnail_viewed")) == 1
    browser.get(f"/patients/{rig.ref()}")
    response = browser.get(f"/captures/{cid}/thumb")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert len(rig.events("capture.thumbnail_viewed")) == 1


def test_retracted_items_are_never_shown_to_clinicians(rig):
    kept = rig.file()
    gone = rig.file(body_site="arm")
    rig.retract(gone, "wrong_patient")
    browser = _signed_in(rig)
    page = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert kept in page and gone not in page and "wrong_patient" not in page
    for path in (f"/captures/{gone}", f"/captures/{gone}/image", f"/captures/{gone}/thumb",
                 f"/captures/{gone}/download?purpose=clinical",
                 f"/patients/{rig.ref()}/compare?a={gone}"):
        assert browser.get(path).status_code == 404, path
    recent = browser.get("/recent").get_data(as_text=True)
    assert kept in recent and gone not in recent


def test_records_officers_see_retracted_items_with_their_reason(rig):
    gone = rig.file(body_site="arm")
    rig.retract(gone, "wrong_patient")
    browser = _signed_in(rig, "rex")
    listing = browser.get("/records/retracted").get_data(as_text=True)
    assert gone in listing and "wrong_patient" in listing and "nina" in listing
    own = browser.get(f"/patients/{rig.ref()}/retracted").get_data(as_text=True)
    assert gone in own and "wrong_patient" in own
    detail = browser.get(f"/captures/{gone}")
    assert detail.status_code == 200 and "Retracted by nina" in detail.get_data(as_text=True)
    image = browser.get(f"/captures/{gone}/image")
    assert image.status_code == 200 and image.data[:2] == b"\xff\xd8"
    assert rig.events("retracted.listed")[-1]["capture_ids"] == [gone]


def test_compare_defaults_to_the_last_two_of_one_site_at_the_same_scale(rig):
    oldest = rig.file(captured_at="2026-01-01T10:00:00+00:00", size=(64, 48))
    older = rig.file(captured_at="2026-01-08T10:00:00+00:00", size=(64, 48))
    rig.file(captured_at="2026-01-09T10:00:00+00:00", body_site="knee")
    newest = rig.file(captured_at="2026-01-15T10:00:00+00:00", size=(32, 24))
    browser = _signed_in(rig)
    page = browser.get(f"/patients/{rig.ref()}/compare").get_data(as_text=True)
    assert older in page and newest in page and oldest not in page
    assert page.index(older) < page.index(newest)  # older on the left
    assert 'class="scale-100"' in page and 'class="scale-50"' in page  # half the pixels
    assert "2026-01-08 11:00 CET" in page and "2026-01-15 11:00 CET" in page
    assert rig.events("captures.compared")[-1]["capture_ids"] == [older, newest]
    chosen = browser.get(f"/patients/{rig.ref()}/compare?a={newest}&b={oldest}")
    assert oldest in chosen.get_data(as_text=True)


def test_compare_refuses_another_patients_capture(rig):
    mine = rig.file()
    theirs = rig.file(patient_id="A-1", issuer="MRN")
    browser = _signed_in(rig)
    assert browser.get(f"/patients/{rig.ref()}/compare?a={mine}&b={theirs}").status_code == 404


def test_full_resolution_view_is_recorded_first_and_fails_closed(rig):
    cid = rig.file(size=(640, 480))
    browser = _signed_in(rig)
    response = browser.get(f"/captures/{cid}/image")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert rig.events("capture.image_viewed")[-1]["capture_id"] == cid

    def broken(*args, **kwargs):
        raise OSError("disk full")

    rig.audit.record = broken
    rig.app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page
    for path in (f"/captures/{cid}/image", f"/captures/{cid}/thumb",
                 f"/captures/{cid}/download?purpose=clinical", f"/patients/{rig.ref()}"):
        response = browser.get(path)
        assert response.status_code == 500, path
        assert b"\xff\xd8" not in response.data


@pytest.mark.parametrize(("consent", "purpose", "allowed"), [
    ("record-only", "clinical", True), ("record-only", "teaching", False),
    ("record-only", "publication", False), ("teaching", "teaching", True),
    ("teaching", "publication", False), ("publication", "publication", True),
    ("emergency-override", "teaching", False),
])
def test_downloads_are_checked_against_consent(rig, consent, purpose, allowed):
    cid = rig.file(consent=consent)
    browser = _signed_in(rig)
    response = browser.get(f"/captures/{cid}/download?purpose={purpose}")
    if allowed:
        assert response.status_code == 200 and response.data[:2] == b"\xff\xd8"
        assert "attachment" in response.headers["Content-Disposition"]
        assert rig.events("capture.downloaded")[-1]["purpose"] == purpose
    else:
        assert response.status_code == 303
        assert rig.events("capture.download_refused")[-1]["reason"] == "consent"
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        assert f"does not allow {purpose} use" in page


def test_a_consent_withdrawal_is_recorded_audited_and_enforced(rig):
    cid = rig.file(consent="publication")
    browser = _signed_in(rig, "rex")
    response = browser.post(f"/patients/{rig.ref()}/consent",
                            {"withdraws": ["teaching", "publication"], "confirm": "yes",
                             "reason": "patient asked"})
    assert response.status_code == 303
    event = rig.events("consent.withdrawn")[-1]
    assert event["withdraws"] == ["publication", "teaching"] and event["by"] == "rex"
    clinician = _signed_in(rig)
    assert clinician.get(f"/captures/{cid}/download?purpose=teaching").status_code == 303
    page = clinician.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert "Consent withdrawn" in page and "withdrawn" in page
    assert browser.post(f"/patients/{rig.ref()}/consent",
                        {"withdraws": "teaching"}).status_code == 400  # not confirmed


def test_an_export_holds_only_what_the_purpose_allows(rig):
    teach = rig.file(consent="teaching")
    record_only = rig.file(consent="record-only")
    browser = _signed_in(rig, "rex")
    response = browser.get(f"/patients/{rig.ref()}/export?purpose=teaching")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        manifest = archive.read("manifest.json").decode()
    assert any(teach in n for n in names) and not any(record_only in n for n in names)
    assert record_only in manifest and GSRN not in manifest
    assert rig.events("patient.exported")[-1]["excluded"] == 1


def test_admin_approves_and_revokes_stations_like_the_cli(rig):
    from .conftest import enrol_station

    pending = enrol_station(rig.store, "Wound clinic", "12", approval=True)
    browser = _signed_in(rig, "ada")
    page = browser.get("/admin/stations").get_data(as_text=True)
    assert "Wound clinic" in page and "1 station waiting for approval" in page
    assert browser.post(f"/admin/stations/{pending}/approve").status_code == 303
    assert rig.store.station(pending).status == "approved"
    assert browser.post(f"/admin/stations/{rig.station_id}/revoke").status_code == 303
    assert rig.store.station(rig.station_id).status == "revoked"
    assert [e["station_id"] for e in rig.events("station.approved")] == [pending]
    assert rig.events("station.revoked")[-1]["by"] == "ada"
    assert browser.post("/admin/stations/nope/revoke").status_code == 404


def test_audit_page_filters_and_pages_and_verifies(rig):
    rig.file()
    browser = _signed_in(rig, "ada")
    for _ in range(3):
        browser.get(f"/patients/{rig.ref()}")
    page = browser.get("/admin/audit?event=patient.").get_data(as_text=True)
    assert "hash chain verifies" in page and page.count("patient.viewed") == 3
    assert "web.login" not in page
    assert "patient.viewed" not in browser.get("/admin/audit?user=cleo").get_data(as_text=True)
