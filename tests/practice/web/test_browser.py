"""The practice UI in Debian's headless Chromium, served over HTTPS by cheroot.

A real data directory (captures filed, amended and retracted by :mod:`practice.filing`, real
thumbnails and photos) is served by ``HttpsServer`` with a self-signed certificate trusted by
its SPKI pin, as IT would pin it. A clinician types the demo wristband's text into the search
field (what a desk scanner does), opens the patient, sees the photos with their current tags,
compares two and cannot see the retracted one; a records officer sees it with its reason; an
admin revokes a station. Screenshots go to test-artifacts/practice/ (and to
docs/screenshots/practice-*.png with UPDATE_SCREENSHOTS=1: the README's pictures).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from websecurity.certificates import ensure_certificate
from websecurity.https_server import HttpsServer

from .conftest import GSRN, PASSWORDS

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "practice"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WRISTBAND = f"(8018){GSRN}(8019)2611270001"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"practice-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _small_targets(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll(
        'main a, main button, main select, main input:not([type=hidden]), nav a, header button')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.height < 44 && !e.closest('p, dd, td, figcaption, .tags, h3'))
        .map(([e, r]) => e.outerHTML.slice(0, 80))""")


@pytest.fixture
def served(rig, tmp_path):
    tls = ensure_certificate(tmp_path / "cert.pem", tmp_path / "key.pem",
                             common_name="practice", dns_names=("localhost",),
                             organization="capture-receiver", unit="practice")
    server = HttpsServer(rig.app, host="127.0.0.1", port=0, cert_path=tls.cert_path,
                         key_path=tls.key_path, threads=4).start()
    try:
        yield f"https://127.0.0.1:{server.port}/", tls
    finally:
        server.stop()


def _login(page, base: str, name: str) -> None:
    page.goto(base)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()


def _images_loaded_and_layout_holds(page, shot: str) -> None:
    """Every image on the page loads (waited for: a busy machine is slow), nothing scrolls
    sideways, every tap target is large enough; then the screenshot ``shot``."""
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=15000)
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    _no_horizontal_scroll(page)
    assert _small_targets(page) == []
    _shot(page, shot)


@contextmanager
def _browser(rig, tls, tmp_path: Path):
    """The rig's app as in production (errors as pages), in Chromium; no CSP violation may
    be reported while it is open."""
    from playwright.sync_api import sync_playwright

    rig.app.config["TESTING"] = False
    violations: list[str] = []
    with sync_playwright() as p:
        context, page = _chromium(p, tmp_path, tls, violations)
        try:
            yield page
        finally:
            context.close()
    assert violations == []


def _chromium(playwright, tmp_path: Path, tls, violations: list[str]):
    """Debian's Chromium trusting only the test certificate (by its SPKI pin), a tablet's
    viewport; CSP violations reported on the console are collected in ``violations``."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={tls.spki_sha256_b64}"],
        viewport={"width": 820, "height": 1180}, device_scale_factor=1)
    page = context.pages[0] if context.pages else context.new_page()
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    return context, page


def test_clinician_finds_compares_records_sees_retracted_admin_revokes(rig, served, tmp_path):
    from playwright.sync_api import expect

    base, tls = served
    first = rig.file(captured_at="2026-01-05T09:00:00+00:00", size=(1200, 900),
                     encounter="2611270001")
    second = rig.file(captured_at="2026-01-19T09:15:00+00:00", size=(1200, 900),
                      encounter="2611270001")
    gone = rig.file(captured_at="2026-01-19T09:16:00+00:00", size=(1200, 900),
                    body_site="arm", encounter="2611270001")
    rig.amend(second, {"note": "granulating, smaller", "consent": "publication"},
              operator="rita")
    rig.retract(gone, "wrong_patient")
    with _browser(rig, tls, tmp_path) as page:
        # -- a clinician scans the wristband at the desk (the scanner types, then Enter)
        _login(page, base, "cleo")
        page.get_by_label("Patient id, or scan the wristband").fill(WRISTBAND)
        page.keyboard.press("Enter")
        expect(page.locator("h1 .pid")).to_have_text(GSRN)
        content = page.content()
        assert first in content and second in content and gone not in content
        assert "granulating, smaller" in content and "wrong_patient" not in content
        expect(page.locator(f"#c-{second} .consent")).to_have_text("publication")
        _images_loaded_and_layout_holds(page, "patient-file")
        # -- compare the last two of the same site
        page.get_by_role("link", name="Compare the last two").click()
        expect(page.locator(".compare figure")).to_have_count(2)
        assert page.locator("figcaption strong").all_inner_texts() == [
            "2026-01-05 10:00 CET", "2026-01-19 10:15 CET"]
        widths = page.evaluate("[...document.querySelectorAll('.compare img')]"
                               ".map(i => i.getBoundingClientRect().width)")
        assert abs(widths[0] - widths[1]) < 1  # same pixels, same scale
        _no_horizontal_scroll(page)
        _shot(page, "compare")
        page.get_by_role("button", name="Sign out").click()
        # -- a records officer sees the retracted capture with its reason
        _login(page, base, "rex")
        page.get_by_role("link", name="Retracted").click()
        expect(page.locator("td.reason")).to_have_text("wrong_patient")
        _no_horizontal_scroll(page)
        page.get_by_role("button", name="Sign out").click()
        # -- an admin revokes the station
        _login(page, base, "ada")
        page.get_by_role("link", name="Stations").click()
        page.get_by_role("button", name="Revoke Exam room 3").click()
        expect(page.get_by_text("Station revoked")).to_be_visible()
        _no_horizontal_scroll(page)
        _shot(page, "stations")
    assert rig.store.station(rig.station_id).status == "revoked"
    assert rig.events("station.revoked")[-1]["by"] == "ada"
    assert GSRN not in rig.audit.path.read_text()


def test_a_document_with_its_pages_its_consent_link_and_forwarding_status(rig, served,
                                                                          tmp_path):
    """A clinician opens the consent form scanned in a session: every page thumbnail loads,
    the photo of that session links to it, and both show whether the PACS and the EHR have
    them, read from the status files the real forward queue writes."""
    from playwright.sync_api import expect

    from practice.forwarding.queue import ForwardQueue
    from tests.practice.forwarding.helpers import write_config

    base, tls = served
    write_config(rig.data_dir, {"name": "pacs", "kind": "dicomweb",
                                "url": "http://127.0.0.1:9/dicom-web"},
                 {"name": "ehr", "kind": "fhir", "url": "http://127.0.0.1:9/fhir"})
    queue = ForwardQueue(rig.data_dir)
    doc = rig.document()
    photo = rig.file(consent_form=doc, size=(1200, 900))
    for item_id in (doc, photo):
        queue.enqueue(rig.index.capture(item_id).capture.kind, item_id,
                      rig.index.capture(item_id).capture.file_path)
    rows = {i.destination: i for i in queue.items(photo)}
    queue.mark_forwarded(rows["pacs"])
    queue.mark_retry(rows["ehr"], "FHIR Media: HTTP 503", 60)
    for item in queue.items(doc):
        queue.mark_forwarded(item)
    queue.close()
    with _browser(rig, tls, tmp_path) as page:
        _login(page, base, "cleo")
        page.goto(f"{base}captures/{photo}")
        expect(page.locator("#fwd-h")).to_have_text("Forwarding")
        expect(page.locator("td .fwd-pending")).to_have_text("pending")
        page.get_by_role("link", name="signed consent form on file").click()
        expect(page.locator("h1")).to_contain_text("Consent form")
        expect(page.locator(".page-thumbs img")).to_have_count(2)
        _images_loaded_and_layout_holds(page, "document")
        page.goto(f"{base}patients/{rig.ref()}")
        expect(page.locator(".fwd-badges .fwd-forwarded")).to_have_count(3)
        expect(page.locator(".fwd-badges .fwd-pending")).to_have_count(1)
        _no_horizontal_scroll(page)
