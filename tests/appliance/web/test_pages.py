"""Status (with session tagging through the real workflow), users, audit log and station info."""

from __future__ import annotations

import json

from appliance.web.app import create_app
from appliance.web.info import station_info_provider
from appliance.web.tls import ensure_web_tls
from appliance.workflow import PatientSeen, SetTags

from .conftest import PATIENT, RECEIVER_PIN, Browser


def test_status_without_a_session_offers_no_tagging(rig):
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    assert "No session: scan a wristband" in html
    assert 'action="/session/tags"' not in html
    assert "1234 MB free" in html and "practice" in html
    assert "Press the capture button (demo)" in html
    # the workflow refuses tags with no patient: the nurse is told so
    response = browser.post("/session/tags", {"consent": "teaching"})
    assert "refused=no_patient" in response.headers["Location"]
    assert "scan a wristband first" in browser.get(response.headers["Location"]).get_data(
        as_text=True)


def test_tags_set_in_the_ui_reach_the_workflow(rig):
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    assert "Patient identified" in html and PATIENT.id not in html
    assert "needs consent" in html
    response = browser.post("/session/tags", {"consent": "publication", "body_site": "heel",
                                              "laterality": "right"})
    assert "notice=tags_set" in response.headers["Location"]
    assert rig.events[-1] == SetTags(consent="publication", body_site="heel",
                                     laterality="right")
    session = rig.workflow.snapshot()["session"]
    assert (session["consent"], session["body_site"], session["laterality"]) == (
        "publication", "heel", "right")
    html = browser.get("/").get_data(as_text=True)
    assert "(light: ready)" in html
    tags = [e["fields"] for e in rig.audit_events() if e["event"] == "web.session_tags"]
    assert tags == [{"user": "nina", "consent": "publication", "body_site": "heel",
                     "laterality": "right"}]


def test_tag_values_outside_the_offer_are_refused(rig):
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    browser = rig.client()
    browser.login("nina")
    assert browser.post("/session/tags", {"consent": "emergency-override"}).status_code == 400
    assert browser.post("/session/tags", {"body_site": "moon"}).status_code == 400
    assert rig.workflow.snapshot()["session"]["consent"] is None


def test_demo_button_presses_once_per_post(rig):
    browser = rig.client()
    browser.login("nina")
    browser.get("/")
    assert browser.post("/demo/press", {}).status_code == 302
    assert rig.presses == [1]


def test_no_demo_button_without_demo_press(rig):
    app = create_app(vault=rig.vault, accounts=rig.accounts, audit=rig.vault.audit,
                     status=dict, config=rig.cfg, clock=rig.clock)
    browser = Browser(app.test_client())
    browser.login("nina")
    assert "(demo)" not in browser.get("/").get_data(as_text=True)
    assert browser.post("/demo/press", {}).status_code == 404


def test_a_broken_status_probe_does_not_take_the_page_down(rig):
    def broken():
        raise OSError("probe failed")

    app = create_app(vault=rig.vault, accounts=rig.accounts, audit=rig.vault.audit,
                     status=broken, config=rig.cfg, clock=rig.clock)
    browser = Browser(app.test_client())
    browser.login("nina")
    response = browser.get("/")
    assert response.status_code == 200 and "status unavailable" in response.get_data(
        as_text=True)


def test_admin_manages_users_and_every_change_is_audited(rig):
    browser = rig.client()
    browser.login("adam")
    browser.get("/admin/users")
    response = browser.post("/admin/users", {"username": "Tom", "role": "reviewer",
                                             "password": "first-password-1"})
    assert response.status_code == 302
    assert rig.accounts.get("tom").role == "reviewer"
    assert rig.accounts.get("tom").must_change_password  # set by an admin: one-time
    browser.get("/admin/users")
    assert browser.post("/admin/users", {"username": "tom", "role": "nurse",
                                         "password": "other-password-1"}).status_code == 400
    assert browser.post("/admin/users", {"username": "bad name", "role": "nurse",
                                         "password": "other-password-1"}).status_code == 400
    assert browser.post("/admin/users", {"username": "zed", "role": "god",
                                         "password": "other-password-1"}).status_code == 400
    assert browser.post("/admin/users/tom/role", {"role": "nurse"}).status_code == 302
    assert browser.post("/admin/users/tom/password", {"password": "short"}).status_code == 400
    assert browser.post("/admin/users/tom/password",
                        {"password": "second-password-2"}).status_code == 302
    assert browser.post("/admin/users/tom/remove", {}).status_code == 302
    assert rig.accounts.get("tom") is None
    # an admin cannot remove themself, and the last admin cannot be demoted
    assert browser.post("/admin/users/adam/remove", {}).status_code == 400
    assert browser.post("/admin/users/adam/role", {"role": "nurse"}).status_code == 400
    assert rig.accounts.get("adam").role == "admin"
    events = [(e["event"], e["fields"]) for e in rig.audit_events()
              if e["event"].startswith("web.user_")]
    assert events == [
        ("web.user_added", {"by": "adam", "role": "reviewer", "user": "tom"}),
        ("web.user_role_changed", {"by": "adam", "role": "nurse", "user": "tom"}),
        ("web.user_password_reset", {"by": "adam", "user": "tom"}),
        ("web.user_removed", {"by": "adam", "user": "tom"}),
    ]
    assert "password" not in json.dumps([f for _e, f in events]).replace("password_reset", "")


def test_audit_page_verifies_the_chain_and_shows_tampering(rig):
    rig.capture()
    browser = rig.client()
    browser.login("adam")
    html = browser.get("/admin/audit").get_data(as_text=True)
    assert "Chain verified" in html and "capture.stored" in html and "web.login" in html
    lines = rig.paths.audit_log.read_text().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["fields"]["extra"] = "edited"
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    rig.paths.audit_log.write_text("".join(lines))
    html = browser.get("/admin/audit").get_data(as_text=True)
    assert "Chain verification FAILED" in html and "line 2" in html


def test_station_page_shows_ids_pins_and_the_certificate_fingerprint(rig):
    tls = ensure_web_tls(rig.paths, station_name="Exam room 3", hostname="station-3")
    app = create_app(vault=rig.vault, accounts=rig.accounts, audit=rig.vault.audit,
                     status=dict, config=rig.cfg, clock=rig.clock,
                     station_info=station_info_provider(rig.cfg, rig.paths, tls))
    browser = Browser(app.test_client())
    browser.login("adam")
    html = browser.get("/admin/station").get_data(as_text=True)
    assert tls.fingerprint in html and tls.spki_sha256_b64 in html
    assert rig.vault.station_id in html  # derived from the identity key
    assert RECEIVER_PIN in html  # the receiver pin from enrolment
    assert "Exam room 3" in html and "cryptography" in html
