"""Every page of the station UI, as nurse, reviewer and admin, in Debian's headless Chromium at
a laptop (1280x800), a tablet in portrait (820x1180) and a phone (390x844): no page scrolls
sideways, every control is at least 44 x 44 CSS pixels, and nothing needs the CSP relaxed.

The pages hold their worst realistic content: a long local patient id (a hospital MRN with a
prefix), a photo of the session in progress already delivered, one not sent, one from before
a restart, a discarded one, a long audit log. Screenshots of each page at each size go to
``test-artifacts/web/layout/``; with ``UPDATE_SCREENSHOTS=1`` the tablet and phone shots the
README shows are copied to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from .conftest import PASSWORDS, ROLE_OF, enrol, make_config
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, pytestmark  # noqa: F401

VIEWPORTS = {"laptop": (1280, 800), "tablet": (820, 1180), "phone": (390, 844)}
LONG_ID = "MRN-0042-2026-000123456789012345"
#: (page name, path template, lowest role) -- every page a signed-in user can reach.
PAGES = [
    ("status", "/", "nurse"),
    ("tags", "/session/tags", "nurse"),
    ("review", "/review", "nurse"),
    ("capture", "/captures/{delivered}", "nurse"),
    ("capture-unsent", "/captures/{queued}", "nurse"),
    ("sealed", "/captures/{sealed}", "nurse"),
    ("gone", "/captures/{discarded}", "nurse"),
    ("document", "/captures/{document}", "nurse"),
    ("password", "/account/password", "nurse"),
    ("forbidden", "/admin/users", "nurse-only"),
    ("audit", "/admin/audit", "admin"),
    ("users", "/admin/users", "admin"),
    ("station", "/admin/station", "admin"),
]
LEVEL = {"nurse": 0, "reviewer": 1, "admin": 2}
#: README pictures: (page, viewport, role) -> file name in docs/screenshots/.
README_SHOTS = {("status", "tablet", "nurse"): "status-tablet.png",
                ("capture", "tablet", "nurse"): "capture-tablet.png",
                ("review", "phone", "nurse"): "review-phone.png",
                ("audit", "tablet", "admin"): "audit-tablet.png"}

MEASURE = """() => {
  const root = document.documentElement;
  const small = [];
  for (const el of document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;            // not rendered
    if (r.right <= 0 || r.bottom <= 0) continue;               // parked off screen (skip link)
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (r.width < 44 || r.height < 44) {
      const text = (el.innerText || el.value || el.name || el.id || '').trim().slice(0, 40);
      const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
      small.push(`${el.tagName.toLowerCase()} "${text}" ${size}`);
    }
  }
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > root.clientWidth + 1 && getComputedStyle(el).position !== 'absolute')
      wide.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, small,
          wide: wide.slice(0, 5)};
}"""


@pytest.fixture
def ui(tmp_path, account_template):
    """The UI over HTTPS on loopback with the real vault, workflow and accounts."""
    from appliance.paths import StatePaths
    from appliance.vault import Vault
    from appliance.web.accounts import ROLES
    from appliance.web.app import create_app
    from appliance.web.info import station_info_provider
    from appliance.web.server import web_server
    from appliance.web.status import station_status
    from appliance.web.tls import ensure_web_tls
    from appliance.workflow import DocumentAction, PatientSeen, Rules, Workflow
    from barcode.identity import SCANNED_LOCAL, Identity
    from capture.fake import FakeCamera
    from documents import page_preview, pages_to_pdf
    from tests.documents.corpus import sample_pages
    from websecurity.accounts import Accounts

    cfg = make_config(tmp_path, practice={"patient_file_url": "https://practice.local:8445/"})
    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    enrol(paths)
    shutil.copy(account_template, paths.root / "accounts.db")
    camera = FakeCamera(still_size=(1600, 1200), lores_size=(320, 240))
    camera.start()
    patient = Identity("patient", LONG_ID, "ST-MARY-HOSPITAL-NORTH", provenance=SCANNED_LOCAL)
    workflow = Workflow(Rules(body_sites=tuple(cfg.workflow.body_sites)), now=time.monotonic())
    workflow.handle(PatientSeen(patient), time.monotonic())
    session = workflow.snapshot()["session"]["session_id"]
    # a document open in the session: the tags page shows its retake and end buttons
    workflow.handle(DocumentAction("referral", source="web"), time.monotonic())

    def meta(**extra):
        return {"patient_id": LONG_ID, "issuer": patient.issuer, "consent": "treatment",
                "body_site": "heel", "laterality": "left", "provenance": SCANNED_LOCAL,
                "operator": "nina", "captured_at": "2026-01-01T10:00:00+00:00",
                "session_id": session, **extra}

    vault = Vault(paths, reserve_bytes=16 * 1024 * 1024, audit_fsync=False)
    sealed = vault.store_capture(camera.capture_jpeg(), meta()).capture_id
    vault.close()  # a restart: that photo can no longer be opened here
    vault = Vault(paths, reserve_bytes=16 * 1024 * 1024, audit_fsync=False)
    delivered = vault.store_capture(camera.capture_jpeg(), meta()).capture_id
    while (item := vault.lease_next()) is not None:
        vault.mark_delivered(item.item_id, b"receipt")
    queued = vault.store_capture(camera.capture_jpeg(), meta(body_site="foot")).capture_id
    discarded = vault.store_capture(camera.capture_jpeg(), meta()).capture_id
    pages = list(sample_pages())
    document = vault.store_document(
        pages_to_pdf([p.kept() for p in pages]),
        meta(document_type="consent-form", pages=len(pages)),
        preview=page_preview(pages[0].image)).capture_id
    vault.discard(discarded, "duplicate", "nina")
    for n in range(120):  # a long log: paging
        vault.audit.record("web.login", user="nina", role="nurse", client=f"10.0.0.{n}")
    accounts = Accounts(paths.root / "accounts.db", ROLES)
    tls = ensure_web_tls(paths, station_name=cfg.station.name)
    where: dict = {}
    app = create_app(
        vault=vault, accounts=accounts, audit=vault.audit,
        status=lambda: station_status(workflow=workflow, vault=vault, cfg=cfg,
                                      clock_synced=False,
                                      receiver={"name": "practice", "state": "connected",
                                                "detail": "pin verified"}),
        workflow_events=lambda event: workflow.handle(event, time.monotonic()),
        demo_press=lambda: None, config=cfg,
        station_info=station_info_provider(cfg, paths, tls, url=lambda: where["url"]))
    server = web_server(app, cfg, paths, host="127.0.0.1", port=0, tls=tls).start()
    where["url"] = server.url()
    try:
        yield {"url": server.url(), "tls": tls,
               "ids": {"delivered": delivered, "queued": queued, "sealed": sealed,
                       "discarded": discarded, "document": document}}
    finally:
        server.stop()
        camera.close()
        vault.close()


def _pages_for(role: str) -> list[tuple[str, str]]:
    out = []
    for name, path, lowest in PAGES:
        if lowest == "nurse-only":
            if role == "nurse":
                out.append((name, path))
        elif LEVEL[role] >= LEVEL[lowest]:
            out.append((name, path))
    return out


def _shot(page, role: str, size: str, name: str) -> None:
    folder = ARTIFACTS / "layout"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{size}-{role}.png"
    page.screenshot(path=str(path), full_page=True)
    target = README_SHOTS.get((name, size, role))
    if target and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / target)


def test_every_page_fits_every_screen_with_large_enough_controls(ui):
    from playwright.sync_api import sync_playwright

    base = ui["url"].rstrip("/")
    problems: list[str] = []
    csp: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS,
                  f"--ignore-certificate-errors-spki-list={ui['tls'].spki_sha256_b64}"])
        try:
            for user, role in ROLE_OF.items():
                context = browser.new_context(viewport={"width": 1280, "height": 800},
                                              device_scale_factor=1)
                page = context.new_page()
                page.on("console", lambda m: csp.append(m.text)
                        if "Content Security Policy" in m.text else None)
                for size, (width, height) in VIEWPORTS.items():
                    page.set_viewport_size({"width": width, "height": height})
                    page.goto(base + "/login")
                    _measure(page, problems, role, size, "login")
                page.set_viewport_size({"width": 1280, "height": 800})
                page.get_by_label("User name").fill(user)
                page.get_by_label("Password").fill(PASSWORDS[user])
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(base + "/")
                for size, (width, height) in VIEWPORTS.items():
                    page.set_viewport_size({"width": width, "height": height})
                    for name, path in _pages_for(role):
                        page.goto(base + path.format(**ui["ids"]))
                        page.wait_for_load_state("load")
                        _measure(page, problems, role, size, name)
                        _shot(page, role, size, name)
                # signed out: the sign-in page with its notice, on the phone
                page.get_by_role("button", name="Sign out").click()
                page.wait_for_url("**/login*")
                _measure(page, problems, role, "phone", "signed-out")
                context.close()
        finally:
            browser.close()
    assert csp == []
    assert problems == []


def _measure(page, problems: list[str], role: str, size: str, name: str) -> None:
    facts = page.evaluate(MEASURE)
    where = f"{name} at {size} as {role}"
    if facts["scrollWidth"] > facts["clientWidth"]:
        problems.append(f"{where}: scrolls sideways ({facts['scrollWidth']} > "
                        f"{facts['clientWidth']} px; {facts['wide']})")
    problems.extend(f"{where}: control {c} smaller than 44x44" for c in facts["small"])
