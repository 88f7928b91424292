"""Status (with session tagging through the real workflow), users, audit log and station info."""

from __future__ import annotations

import json
import re
import time

import pytest

from appliance.config import ConfigError, load_config
from appliance.web.app import create_app
from appliance.web.info import station_info_provider
from appliance.web.tls import ensure_web_tls
from appliance.web.vaultview import local_time, short_id
from appliance.workflow import PatientSeen, SetTags
from websecurity.accounts import PASSWORD_RULE

from .conftest import PATIENT, RECEIVER_PIN, Browser


def test_status_without_a_session_offers_no_tagging(rig):
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    assert "Waiting for a wristband" in html and "Scan the patient's wristband" in html
    assert 'href="/session/tags"' not in html
    assert "MB free" in html and "practice" in html
    assert "Press the capture button (demo)" in html
    assert "no session in progress" in browser.get("/session/tags").get_data(
        as_text=True).lower()
    # the workflow refuses tags with no patient: the nurse is told so
    response = browser.post("/session/tags", {"consent": "teaching"})
    assert "refused=no_patient" in response.headers["Location"]
    assert "scan a wristband first" in browser.get(response.headers["Location"]).get_data(
        as_text=True)


def test_status_names_the_patient_and_tags_are_set_on_their_own_page(rig):
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    # the session in progress is for this patient: id and issuer, in nurse words
    assert f'<span class="wrap">{PATIENT.id}</span> <span class="issuer">issuer GS1</span>' \
        in html
    assert "Set the consent before the first photo" in html
    assert "Photographer</dt><dd>nina" in html  # named by her sign-in
    for jargon in ("(light:", "Operator named", "scanned-gs1", "needs_consent"):
        assert jargon not in html
    assert 'href="/session/tags"' in html
    # the form is on its own page, which does not reload under the nurse's fingers
    form = browser.get("/session/tags").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in form and PATIENT.id in form
    response = browser.post("/session/tags", {"consent": "publication", "body_site": "heel",
                                              "laterality": "right"})
    assert "notice=tags_set" in response.headers["Location"]
    assert rig.events[-1] == SetTags(consent="publication", body_site="heel",
                                     laterality="right")
    session = rig.workflow.snapshot()["session"]
    assert (session["consent"], session["body_site"], session["laterality"]) == (
        "publication", "heel", "right")
    html = browser.get("/").get_data(as_text=True)
    assert "Ready: press the button to take a photo" in html
    tags = [e["fields"] for e in rig.audit_events() if e["event"] == "web.session_tags"]
    assert tags == [{"user": "nina", "consent": "publication", "body_site": "heel",
                     "laterality": "right"}]


def test_status_refreshes_itself_without_script_and_shows_the_current_state(rig):
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/?notice=tags_set").get_data(as_text=True)
    # a meta refresh (the CSP allows no script) to the plain page: no notice repeated
    assert '<meta http-equiv="refresh" content="5; url=/?auto=1">' in html
    assert "<script" not in html
    assert "Waiting for a wristband" in html
    rig.workflow.handle(PatientSeen(PATIENT), rig.clock())
    html = browser.get("/?auto=1").get_data(as_text=True)  # the next reload: never stale
    assert PATIENT.id in html and "Waiting for a wristband" not in html
    assert "Session tags updated" not in html


def test_the_self_refresh_does_not_keep_a_session_alive(rig):
    idle = rig.cfg.web.idle_timeout_minutes * 60
    browser = rig.client()
    browser.login("nina")
    rig.clock.advance(idle - 60)
    assert browser.get("/?auto=1").status_code == 200  # still signed in
    rig.clock.advance(61)  # the reloads did not count as activity
    response = browser.get("/?auto=1")
    assert response.status_code == 302 and "expired=idle" in response.headers["Location"]
    # while a real visit does count
    other = rig.client()
    other.login("rita")
    rig.clock.advance(idle - 60)
    assert other.get("/").status_code == 200
    rig.clock.advance(120)
    assert other.get("/").status_code == 200


def test_delivery_counts_photos_apart_from_corrections_and_audit_batches(rig):
    first, second = rig.capture(), rig.capture()
    rig.vault.amend(first, {"note": "checked"}, "nina")
    rig.vault.queue_audit_batch()
    while (item := rig.vault.lease_next()) is not None:
        if item.item_id != second:
            rig.vault.mark_delivered(item.item_id, b"receipt")
        else:
            rig.vault.release(item.item_id, retry_at=time.time() + 3600)
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/").get_data(as_text=True)
    assert "Photos delivered</dt><dd class=\"num\">1</dd>" in html
    assert "Waiting to send</dt><dd class=\"num\">1</dd>" in html
    assert "Also sent with them: 2 corrections and audit records" in html
    # a photo discarded after delivery no longer counts as delivered
    rig.vault.discard(first, "poor_quality", "nina")
    html = browser.get("/").get_data(as_text=True)
    assert "Photos delivered</dt><dd class=\"num\">0</dd>" in html


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


def _listed_seqs(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td data-label="#" class="num">(\d+)</td>', html)]


def test_audit_page_lists_exactly_what_the_chain_verification_counted(rig):
    for _ in range(3):
        rig.capture()
    browser = rig.client()
    browser.login("adam")
    html = browser.get("/admin/audit").get_data(as_text=True)
    verified = int(re.search(r"Chain verified: (\d+) entries", html).group(1))
    total = int(re.search(r"Entries 1–\d+ of (\d+), newest first", html).group(1))
    assert verified == total == len(_listed_seqs(html))
    assert _listed_seqs(html) == list(range(verified, 0, -1))  # newest first, none missing
    # the page's own web.audit_verified was written after it counted: next view lists it
    html = browser.get("/admin/audit").get_data(as_text=True)
    again = int(re.search(r"Chain verified: (\d+) entries", html).group(1))
    assert again == verified + 1 == len(_listed_seqs(html))
    assert "web.audit_verified" in html


def test_audit_page_pages_and_filters_by_event(rig, monkeypatch):
    from appliance.web import admin

    monkeypatch.setattr(admin, "AUDIT_PAGE", 4)
    captures = [rig.capture() for _ in range(5)]
    browser = rig.client()
    browser.login("adam")
    html = browser.get("/admin/audit?event=capture.stored").get_data(as_text=True)
    assert "Entries 1–4 of 5 matching <code>capture.stored</code>" in html
    assert all(f"{c[:-8]}<strong>{c[-8:]}</strong>" in html for c in captures[1:])
    assert captures[0] not in html
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)">Older entries', html)
    html = browser.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Entries 5–5 of 5 matching" in html
    assert f"{captures[0][:-8]}<strong>{captures[0][-8:]}</strong>" in html
    assert "Older entries" not in html and "Newer entries" in html
    # a group filter (every capture. event) and the menu offers what the log holds
    html = browser.get("/admin/audit?event=capture.").get_data(as_text=True)
    assert '<option value="capture." selected>' in html
    assert '<option value="web.login">web.login</option>' in html
    assert "web.login</code>" not in html  # filtered out of the rows
    # times are the station's local time, with its zone, not raw UTC ISO
    assert not re.search(r"<td[^>]*>\d{4}-\d\d-\d\dT", html)


def test_the_local_time_filter_names_the_station_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Zurich")
    time.tzset()
    try:
        assert local_time("2026-01-02T10:11:12.345Z") == "2026-01-02 11:11:12 CET"
        assert local_time("2026-07-02T10:11:12+00:00") == "2026-07-02 12:11:12 CEST"
        assert local_time("not a time") == "not a time"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_short_ids_of_photos_taken_together_differ_visibly():
    from appliance.vault.ids import uuid7

    ids = [uuid7() for _ in range(20)]
    assert len({i[:8] for i in ids}) < 20  # the time prefix is shared...
    assert len({short_id(i) for i in ids}) == 20  # ...the short id is not
    assert re.fullmatch(r"[0-9a-f]{4}·[0-9a-f]{4}", short_id(ids[0]))


def test_signing_out_says_so_and_password_rules_come_before_the_first_try(rig):
    browser = rig.client()
    browser.login("nina")
    html = browser.get("/account/password").get_data(as_text=True)
    assert PASSWORD_RULE in html  # on the page, before anything was typed
    browser.get("/")
    response = browser.post("/logout", {})
    assert response.status_code == 302
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "You are signed out." in html and 'role="status"' in html
    assert browser.get("/").status_code == 302  # and signed out for real


@pytest.mark.parametrize(("value", "ok"), [
    ("", True), ("https://practice.local:8445/", True), ("https://10.0.0.5/patients", True),
    ("http://practice.local/", False), ("javascript:alert(1)", False),
    ('https://x/"onmouseover=', False), ("https://a b/", False)])
def test_the_patient_file_address_is_validated(tmp_path, value, ok):
    path = tmp_path / "station.toml"
    path.write_text(f"[practice]\npatient_file_url = {json.dumps(value)}\n")
    if ok:
        assert load_config(path, environ={}).practice.patient_file_url == value
    else:
        with pytest.raises(ConfigError, match="patient_file_url"):
            load_config(path, environ={})


def test_error_pages_speak_plainly(rig):
    browser = rig.client()
    browser.login("nina")
    response = browser.get("/admin/users")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "<h1>Not allowed for your role</h1>" in html and "Error 403 (Forbidden)" in html
    assert 'class="button secondary" href="/"' in html
