"""Review with the real vault: previews and full images decrypted in memory, amendments,
discards (shredded before delivery, retracted after), sealed captures of an earlier start."""

from __future__ import annotations

import io
import re

from PIL import Image

from appliance.vault import Vault
from appliance.web.vaultview import short_id
from appliance.workflow import PatientSeen
from sync.envelope import open_envelope

from .conftest import PATIENT, make_config


def _jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def test_queue_shows_this_starts_captures_with_previews(rig):
    first, second = rig.capture(), rig.capture(body_site="knee")
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/review").get_data(as_text=True)
    for cid in (first, second):
        assert f'/captures/{cid}/preview' in html
    assert html.index(second) < html.index(first)  # newest first
    assert PATIENT.id not in html  # the queue groups by pseudonym, never shows the id
    preview = browser.get(f"/captures/{first}/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    assert preview.headers["Cache-Control"] == "no-store"
    width, height = _jpeg_size(preview.data)
    assert max(width, height) < 800  # a real preview, smaller than the 800x600 still


def test_full_image_is_the_sealed_photo_streamed_from_memory(rig, tmp_path):
    cid = rig.capture()
    browser = rig.client()
    browser.login("nina")
    page = browser.get(f"/captures/{cid}")
    html = page.get_data(as_text=True)
    assert PATIENT.id in html  # the check "right patient?" needs the id on the page
    assert "teaching" in html and "hand" in html and "left" in html
    response = browser.get(f"/captures/{cid}/image")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert PATIENT.id not in response.headers.get("Content-Disposition", "")
    assert _jpeg_size(response.data) == (800, 600)
    # the same bytes the vault sealed: compare with the review-key opening of the file
    opened = open_envelope(rig.paths.captures / f"{cid}.sealed", rig.vault.keys.review_private,
                           rig.vault.identity.private_key.public_key())
    assert response.data == opened.parts["image"]
    # and nothing on disk holds them in plaintext
    for path in rig.paths.root.rglob("*"):
        if path.is_file():
            assert response.data[:64] not in path.read_bytes()


def test_every_image_view_is_an_audit_event_naming_the_user(rig):
    cid = rig.capture()
    browser = rig.client()
    browser.login("rita")
    browser.get(f"/captures/{cid}/preview")
    browser.get(f"/captures/{cid}/image")
    browser.get(f"/captures/{cid}/image")
    views = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.viewed"]
    assert [(v["capture_id"], v["operator"], v["part"]) for v in views] == [
        (cid, "rita", "preview"), (cid, "rita", "image"), (cid, "rita", "image")]
    log = rig.paths.audit_log.read_text()
    assert PATIENT.id not in log


def test_an_image_view_that_cannot_be_audited_is_refused(rig, monkeypatch):
    cid = rig.capture()
    browser = rig.client()
    browser.login("rita")

    def full_disk(event, **fields):
        if event == "capture.viewed":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(rig.vault.audit, "record", full_disk)
    response = browser.get(f"/captures/{cid}/image")
    assert response.status_code == 409
    assert response.mimetype != "image/jpeg"
    assert b"\xff\xd8" not in response.data


def test_no_patient_id_in_any_url(rig):
    cid = rig.capture()
    browser = rig.client()
    browser.login("adam")
    urls = set()
    for path in ("/", "/review", f"/captures/{cid}", "/admin/audit", "/admin/users"):
        html = browser.get(path).get_data(as_text=True)
        urls |= set(re.findall(r'(?:href|src|action)="([^"]*)"', html))
    assert urls and not any(PATIENT.id in url for url in urls)


def test_amend_seals_an_amendment_and_shows_the_new_tags(rig, tmp_path):
    cid = rig.capture()
    browser = rig.client()
    browser.login("nina")
    browser.get(f"/captures/{cid}")
    response = browser.post(f"/captures/{cid}/amend", {
        "body_site": "foot", "laterality": "left", "consent": "", "note": "heel ulcer"})
    assert response.status_code == 302
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "sealed and queued" in html and "foot" in html and "heel ulcer" in html
    amended = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.amended"]
    # laterality was already "left": only what changed travels
    assert amended == [{"amendment_id": amended[0]["amendment_id"], "capture_id": cid,
                        "changed": ["body_site", "note"], "operator": "nina"}]
    counts = rig.vault.counts()
    assert counts["queued"] == 2  # the capture and its amendment


def test_amend_refuses_values_not_offered(rig):
    cid = rig.capture()
    browser = rig.client()
    browser.login("nina")
    browser.get(f"/captures/{cid}")
    assert browser.post(f"/captures/{cid}/amend", {"body_site": "elbow-of-doom"}
                        ).status_code == 400
    assert browser.post(f"/captures/{cid}/amend", {"laterality": "up"}).status_code == 400
    assert browser.post(f"/captures/{cid}/amend", {"note": "x" * 501}).status_code == 400
    assert not [e for e in rig.audit_events() if e["event"] == "capture.amended"]


def test_discard_before_delivery_shreds(rig):
    keep, bad = rig.capture(), rig.capture()
    browser = rig.client()
    browser.login("nina")
    browser.get(f"/captures/{bad}")
    # a reason and the confirmation are required
    assert browser.post(f"/captures/{bad}/discard", {"reason": "poor_quality"}
                        ).status_code == 400
    assert browser.post(f"/captures/{bad}/discard", {"confirm": "yes"}).status_code == 400
    assert browser.post(f"/captures/{bad}/discard", {"reason": "other", "confirm": "yes"}
                        ).status_code == 400
    response = browser.post(f"/captures/{bad}/discard",
                            {"reason": "poor_quality", "confirm": "yes"})
    assert response.status_code == 302
    assert "shredded" in browser.get(response.headers["Location"]).get_data(as_text=True)
    assert [c.capture_id for c in rig.vault.list_captures()] == [keep]
    assert not (rig.paths.captures / f"{bad}.sealed").exists()
    discarded = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.discarded"]
    assert discarded[0]["capture_id"] == bad and discarded[0]["operator"] == "nina"
    assert discarded[0]["reason"] == "poor_quality" and discarded[0]["retraction_id"] is None
    assert browser.get(f"/captures/{bad}").status_code == 404


def _deliver(vault: Vault, capture_id: str) -> None:
    item = vault.lease_next()
    assert item.item_id == capture_id
    vault.mark_delivered(capture_id, b"receipt")


def test_an_earlier_sessions_delivered_photo_needs_a_reviewer(rig):
    cid = rig.capture(session_id="an-earlier-session")
    _deliver(rig.vault, cid)
    nurse = rig.client()
    nurse.login("nina")
    page = nurse.get(f"/captures/{cid}").get_data(as_text=True)
    assert "A reviewer can withdraw it" in page and 'action="/captures/' + cid + '/discard"' \
        not in page
    assert nurse.post(f"/captures/{cid}/discard", {"reason": "wrong_patient", "confirm": "yes"}
                      ).status_code == 403
    assert [c.capture_id for c in rig.vault.list_captures()] == [cid]
    reviewer = rig.client()
    reviewer.login("rita")
    reviewer.get(f"/captures/{cid}")
    response = reviewer.post(f"/captures/{cid}/discard", {
        "reason": "other", "reason_detail": "photo of the wrong wound", "confirm": "yes"})
    assert response.status_code == 302
    assert "retraction" in reviewer.get(response.headers["Location"]).get_data(as_text=True)
    discarded = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.discarded"]
    assert discarded[0]["retraction_id"] and discarded[0]["reason"] == "other"
    # the free-text reason never reaches the audit log (it travels sealed)
    assert "wrong wound" not in rig.paths.audit_log.read_text()
    item = rig.vault.lease_next()
    assert item.kind == "amendment"


def test_a_nurse_discards_a_delivered_photo_of_the_session_in_progress(rig):
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    session = rig.workflow.snapshot()["session"]["session_id"]
    blurry = rig.capture(session_id=session)
    _deliver(rig.vault, blurry)  # delivered within a second of being taken
    nurse = rig.client()
    nurse.login("nina")
    page = nurse.get(f"/captures/{blurry}").get_data(as_text=True)
    assert "sends a sealed retraction" in page and "this session" in page
    response = nurse.post(f"/captures/{blurry}/discard",
                          {"reason": "poor_quality", "confirm": "yes"})
    assert response.status_code == 302 and "notice=retracted" in response.headers["Location"]
    assert "practice removes it" in nurse.get(response.headers["Location"]).get_data(
        as_text=True)
    assert rig.vault.list_captures() == []
    # the vault's one way: a sealed retraction naming the photo, queued for the practice
    discarded = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.discarded"]
    assert discarded == [{"capture_id": blurry, "operator": "nina", "reason": "poor_quality",
                          "retraction_id": discarded[0]["retraction_id"], "was": "delivered"}]
    item = rig.vault.lease_next()
    assert item.kind == "amendment" and item.item_id == discarded[0]["retraction_id"]
    opened = open_envelope(item.path, rig.practice_key,
                           rig.vault.identity.private_key.public_key())
    assert opened.metadata["amends"] == blurry and opened.metadata["retract"] is True


def test_captures_of_an_earlier_start_say_plainly_where_to_look(tmp_path, rig):
    old = rig.capture()
    rig.vault.close()
    rig.vault = Vault(rig.paths, reserve_bytes=16 * 1024 * 1024, audit_fsync=False)
    rig.app.extensions["capture_station"].vault = rig.vault
    rig.app.extensions["capture_station"].audit = rig.vault.audit
    new = rig.capture()
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/review").get_data(as_text=True)
    assert f"/captures/{new}/preview" in html
    assert f"/captures/{old}/preview" not in html and short_id(old) in html
    assert "the station cannot open these" in html
    assert "Ask IT for the address of the practice" in html  # no patient_file_url set
    page = browser.get(f"/captures/{old}")
    assert page.status_code == 409
    assert "The station can no longer open this photo" in page.get_data(as_text=True)
    assert browser.get(f"/captures/{old}/image").status_code == 409
    browser.get(f"/captures/{new}")
    assert browser.post(f"/captures/{old}/amend", {"note": "x"}).status_code == 409
    # with the practice's address configured, the page links to the patient file
    rig.app.extensions["capture_station"].cfg = make_config(
        tmp_path, practice={"patient_file_url": "https://practice.local:8445/"})
    html = browser.get(f"/captures/{old}").get_data(as_text=True)
    assert '<a class="button" href="https://practice.local:8445/"' in html
    assert "Open the practice's patient file" in html


def test_discarded_or_unknown_photos_get_a_page_that_says_so(rig):
    cid = rig.capture()
    browser = rig.client()
    browser.login("nina")
    rig.vault.discard(cid, "duplicate", "nina")
    for path, says in ((f"/captures/{cid}", "This photo was discarded"),
                       (f"/captures/{cid}/image", "This photo was discarded"),
                       ("/captures/0190aaaa-0000-7000-8000-000000000000",
                        "There is no photo at this address"),
                       ("/captures/not-an-id", "There is no photo at this address")):
        response = browser.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 404, path
        assert "This photo is not on the station" in html and says in html, path
        assert "Not Found" not in html and 'href="/review"' in html


def test_one_view_is_recorded_per_page_not_per_thumbnail(rig):
    first, second = rig.capture(), rig.capture()
    browser = rig.client()
    browser.login("nina")
    browser.get("/review")
    for cid in (first, second):  # the thumbnails the queue page shows
        assert browser.get(f"/captures/{cid}/preview").status_code == 200
    browser.get(f"/captures/{first}")
    browser.get(f"/captures/{first}/image")  # the page's own full image
    events = [(e["event"], e["fields"]) for e in rig.audit_events()
              if e["event"] in ("capture.viewed", "review.queue_viewed")]
    assert events == [
        ("review.queue_viewed", {"user": "nina", "captures": [second, first]}),
        ("capture.viewed", {"capture_id": first, "operator": "nina", "part": "page"}),
    ]
    # another session has no grant: its image fetch is recorded on its own
    other = rig.client()
    other.login("rita")
    other.get(f"/captures/{second}/image")
    views = [e["fields"] for e in rig.audit_events() if e["event"] == "capture.viewed"]
    assert views[-1] == {"capture_id": second, "operator": "rita", "part": "image"}


def test_unknown_or_malformed_capture_ids_are_404(rig):
    browser = rig.client()
    browser.login("nina")
    for path in ("/captures/0190aaaa-0000-7000-8000-000000000000",
                 "/captures/0190aaaa-0000-7000-8000-000000000000/image",
                 "/captures/..%2f..%2fetc%2fpasswd/image", "/captures/ABC/preview"):
        assert browser.get(path).status_code == 404, path
