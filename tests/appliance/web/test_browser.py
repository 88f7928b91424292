"""The review UI in Debian's headless Chromium, against a whole station on loopback.

A real station runtime scans a fake camera's wristband with the real barcode reader, the demo
button in the UI presses a gpiozero MockFactory button, the photo is sealed by the real vault,
and the UI is served over HTTPS by cheroot with the station's own certificate (trusted by its
SPKI pin, exactly as IT would pin it). The nurse logs in, tags the session, takes two photos,
amends one, discards the other and logs out; the admin checks the audit log, users and station
page. Screenshots go to test-artifacts/web/ (and to docs/screenshots/ with
UPDATE_SCREENSHOTS=1, which is how the README's pictures are made).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="Debian's chromium is not installed at /usr/bin/chromium "
                              "(`make test` installs it: WANT_BROWSER=1 ./scripts/bootstrap.sh)"),
]

NURSE, NURSE_PW = "nina", "nurse-password-1"
ADMIN, ADMIN_PW = "adam", "admin-password-3"


@pytest.fixture
def station(tmp_path):
    from gpiozero.pins.mock import MockFactory

    from appliance.compose import WorkflowReader
    from appliance.paths import StatePaths
    from appliance.station import Station, StationInfo
    from appliance.vault import Vault
    from appliance.web.accounts import ROLES
    from appliance.web.app import create_app
    from appliance.web.info import station_info_provider
    from appliance.web.server import web_server
    from appliance.web.status import station_status
    from appliance.workflow import Rules, Workflow
    from barcode.gs1 import with_check_digit
    from barcode.reader import build_reader
    from capture.controls import CaptureButton, StatusLight
    from capture.fake import FakeCamera, Scene, Symbol
    from websecurity.accounts import Accounts

    from .conftest import enrol, make_config

    cfg = make_config(tmp_path)
    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    enrol(paths)
    accounts = Accounts(paths.root / "accounts.db", ROLES)
    accounts.add(NURSE, "nurse", password=NURSE_PW)
    accounts.add(ADMIN, "admin", password=ADMIN_PW)
    patient_id = with_check_digit("79512345000000001")
    wristband = Symbol("datamatrix", f"(8018){patient_id}", module_px=14,
                       center=(0.72, 0.6), gs1=True)
    camera = FakeCamera(Scene(symbols=(wristband,)), still_size=(2028, 1520),
                        lores_size=(640, 480))
    factory = MockFactory()
    button = CaptureButton(17, bounce_seconds=0.01, pin_factory=factory)
    light = StatusLight(pin=27, pin_factory=factory)
    vault = Vault(paths, reserve_bytes=16 * 1024 * 1024, audit_fsync=False)
    workflow = Workflow(Rules(body_sites=tuple(cfg.workflow.body_sites)), now=time.monotonic())
    reader = WorkflowReader(build_reader(cfg.barcode, cfg.workflow.body_sites))
    runtime = Station(workflow=workflow, camera=camera, reader=reader, store=vault,
                      audit=vault.audit,
                      info=StationInfo(vault.station_id, cfg.station.name), button=button,
                      light=light, scan_rate_hz=10)

    def press() -> None:
        pin = factory.pin(17)
        pin.drive_low()
        time.sleep(0.05)
        pin.drive_high()

    from appliance.web.tls import ensure_web_tls

    tls = ensure_web_tls(paths, station_name=cfg.station.name)
    where: dict = {}
    app = create_app(
        vault=vault, accounts=accounts, audit=vault.audit,
        status=lambda: station_status(
            workflow=runtime.workflow, vault=vault, cfg=cfg, clock_synced=False,
            receiver={"name": "practice", "state": "connected", "detail": "pin verified"}),
        workflow_events=runtime.dispatch, demo_press=press, config=cfg,
        station_info=station_info_provider(cfg, paths, tls, url=lambda: where["url"]))
    runtime.start()
    server = web_server(app, cfg, paths, host="127.0.0.1", port=0, tls=tls).start()
    where["url"] = server.url()
    try:
        yield {"url": server.url(), "tls": tls, "vault": vault, "paths": paths,
               "patient_id": patient_id, "runtime": runtime}
    finally:
        server.stop()
        runtime.stop(timeout=10)
        button.close()
        light.close()
        vault.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")


def _reload_until(page, text: str, url: str, timeout: float = 20.0) -> None:
    """The station works in its own threads; pages other than the status page do not
    refresh by themselves."""
    deadline = time.monotonic() + timeout
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} never appeared on {url}"
        time.sleep(0.2)
        page.goto(url)


def _login(page, base: str, name: str, password: str) -> None:
    page.goto(base)
    assert page.url.startswith(base + "login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_nurse_reviews_tags_discards_and_admin_checks(station, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, tls, vault = station["url"], station["tls"], station["vault"]
    violations: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            # Trust exactly this station's key, as IT would after checking the fingerprint.
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={tls.spki_sha256_b64}"],
            viewport={"width": 1180, "height": 820}, device_scale_factor=1,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text else None)

            # -- the nurse signs in; the wristband in front of the camera opened a session
            page.goto(base)
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            _shot(page, "login")
            _login(page, base, NURSE, NURSE_PW)
            expect(page.get_by_role("heading", name="Station status")).to_be_visible()
            # the page reloads itself: the wristband's session appears without a click
            expect(page.locator(".patient")).to_contain_text(station["patient_id"],
                                                             timeout=20_000)
            page.get_by_role("link", name="Set consent, body site and side").click()
            page.get_by_label("Consent").select_option("teaching")
            page.get_by_label("Body site").select_option("hand")
            page.get_by_label("Side").select_option("left")
            page.get_by_role("button", name="Set tags").click()
            expect(page.get_by_text("Session tags updated.")).to_be_visible()
            expect(page.locator("dd", has_text="teaching")).to_be_visible()

            # -- two photos with the demo button (a MockFactory press of the real button)
            for _ in range(2):
                page.get_by_role("button", name="Press the capture button (demo)").click()
                expect(page.get_by_text("Capture button pressed.")).to_be_visible()
                time.sleep(0.3)  # let the station finish the capture before the next press
            # two photos in this session, shown by the page's own refresh
            expect(page.locator("dt:text('Photos this session') + dd")).to_have_text(
                "2", timeout=20_000)
            _shot(page, "status")

            page.get_by_role("link", name="Review", exact=True).click()
            _reload_until(page, "/preview", base + "review")
            previews = page.locator("ul.thumbs img")
            expect(previews).to_have_count(2)
            for i in range(2):
                assert previews.nth(i).evaluate("img => img.naturalWidth") > 0
            _shot(page, "review")

            # -- open the older photo: full image, the patient shown, tags corrected
            page.locator("ul.thumbs a").nth(1).click()
            expect(page.locator(".patient")).to_contain_text(station["patient_id"])
            photo = page.get_by_role("img", name="The photo, full size (opens alone)")
            expect(photo).to_be_visible()
            assert photo.evaluate("img => img.naturalWidth") == 2028
            assert station["patient_id"] not in page.url
            kept = page.url.rsplit("/", 1)[1]
            page.get_by_label("Body site").select_option("foot")
            page.get_by_label("Note").fill("Healing well; dressing changed.")
            page.get_by_role("button", name="Save correction").click()
            expect(page.get_by_text("sealed and queued")).to_be_visible()
            expect(page.locator("dd", has_text="foot")).to_be_visible()
            _shot(page, "capture")

            # -- discard the other one (never sent, so it is shredded)
            page.get_by_role("link", name="← All photos").click()
            page.locator("ul.thumbs a").nth(0).click()
            discarded = page.url.rsplit("/", 1)[1]
            page.get_by_label("Reason").select_option("poor_quality")
            page.get_by_label("I understand this cannot be undone").check()
            page.get_by_role("button", name="Discard photo").click()
            expect(page.get_by_text("discarded and shredded")).to_be_visible()
            expect(page.locator("ul.thumbs img")).to_have_count(1)
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            expect(page.get_by_text("You are signed out.")).to_be_visible()
            page.goto(base + "review")  # signed out for real
            assert page.url.startswith(base + "login")

            # -- the admin signs in with the keyboard only
            page.goto(base)
            page.keyboard.press("Tab")  # the skip link comes first
            page.get_by_label("User name").focus()
            page.keyboard.type(ADMIN)
            page.keyboard.press("Tab")
            page.keyboard.type(ADMIN_PW)
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Station status")).to_be_visible()
            page.get_by_role("link", name="Audit log").click()
            expect(page.get_by_text("Chain verified")).to_be_visible()
            expect(page.locator("td code", has_text="capture.discarded")).to_be_visible()
            _shot(page, "audit")
            page.get_by_role("link", name="Users").click()
            expect(page.get_by_role("cell", name=NURSE, exact=True)).to_be_visible()
            _shot(page, "users")
            page.get_by_role("link", name="Station").click()
            expect(page.get_by_text(tls.fingerprint)).to_be_visible()
            _shot(page, "station")
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            context.close()

    assert violations == []  # nothing on any page needed the CSP relaxed
    # what the browser did is what the vault holds
    held = [c.capture_id for c in vault.list_captures()]
    assert held == [kept] and discarded != kept
    assert not (station["paths"].captures / f"{discarded}.sealed").exists()
    events = [e["event"] for e in vault.audit.tail(500)] if hasattr(vault.audit, "tail") else []
    log = station["paths"].audit_log.read_text()
    assert station["patient_id"] not in log
    for event in ("web.login", "web.session_tags", "web.demo_button", "capture.stored",
                  "capture.viewed", "review.queue_viewed", "capture.amended",
                  "capture.discarded", "web.logout", "web.audit_verified"):
        assert f'"event":"{event}"' in log, event
    if events:
        assert events.count("capture.stored") == 2
    from appliance.vault import verify_audit_log

    assert verify_audit_log(station["paths"].audit_log).ok
