"""The patient file shows where each item stands with the PACS and the EHR, read from the
status file the real forward queue writes beside it: pending with the next try, failed with
the reason, forwarded with when; a badge per destination on the patient's list."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from practice.forwarding.queue import ForwardQueue
from practice.web.forwardstatus import read_status
from tests.practice.forwarding.helpers import write_config

PACS = {"name": "pacs", "kind": "dicomweb", "url": "http://127.0.0.1:9/dicom-web"}
EHR = {"name": "ehr", "kind": "fhir", "url": "http://127.0.0.1:9/fhir"}
NOW = dt.datetime(2026, 1, 1, 11, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def queue(rig):
    write_config(rig.data_dir, PACS, EHR)
    q = ForwardQueue(rig.data_dir, clock=lambda: NOW)
    yield q
    q.close()


def _signed_in(rig, name="cleo"):
    browser = rig.client()
    browser.login(name)
    return browser


def _queued(rig, queue, item_id):
    queue.enqueue(rig.index.capture(item_id).capture.kind, item_id,
                  rig.index.capture(item_id).capture.file_path)
    return {i.destination: i for i in queue.items(item_id)}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_nothing_is_shown_without_forwarding(rig):
    cid = rig.file()
    page = _signed_in(rig).get(f"/captures/{cid}").get_data(as_text=True)
    assert "Forwarding" not in page and "fwd-" not in page


def test_pending_failed_and_forwarded_per_destination(rig, queue):
    cid = rig.file()
    rows = _queued(rig, queue, cid)
    browser = _signed_in(rig)
    page = _text(browser.get(f"/captures/{cid}").get_data(as_text=True))
    assert "pacs pending next try 2026-01-01 12:00 CET" in page  # due now, practice's zone

    queue.mark_retry(rows["pacs"], "STOW-RS: HTTP 503", 90)
    queue.mark_failed(rows["ehr"], "FHIR Media: HTTP 422")
    page = _text(browser.get(f"/captures/{cid}").get_data(as_text=True))
    assert ("pacs pending 1 attempt, last: STOW-RS: HTTP 503; next try 2026-01-01 12:01 CET"
            in page)
    assert "ehr failed refused: FHIR Media: HTTP 422" in page
    tiles = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert 'class="fwd fwd-pending"' in tiles and 'class="fwd fwd-failed"' in tiles

    queue.retry_failed()
    for item in queue.items(cid):
        queue.mark_forwarded(item)
    page = _text(browser.get(f"/captures/{cid}").get_data(as_text=True))
    assert re.search(r"pacs forwarded forwarded 2026-\d\d-\d\d \d\d:\d\d CET", page)
    assert re.search(r"ehr forwarded forwarded 2026-", page)
    tiles = browser.get(f"/patients/{rig.ref()}").get_data(as_text=True)
    assert tiles.count('class="fwd fwd-forwarded"') == 2 and "fwd-failed" not in tiles


def test_an_amendment_waiting_makes_the_item_pending_and_the_file_follows_a_retraction(
        rig, queue):
    doc = rig.document()
    for item in _queued(rig, queue, doc).values():
        queue.mark_forwarded(item)
    rig.amend(doc, {"note": "second page signed"})
    history = rig.index.capture(doc).capture.history_path
    queue.enqueue("amendment", "amend-0001-of-doc", history)
    [pacs] = read_status(rig.data_dir / rig.index.capture(doc).capture.sidecar_path)[1:]
    assert (pacs.destination, pacs.state, pacs.rows) == ("pacs", "pending", 2)
    browser = _signed_in(rig, "rex")
    page = _text(browser.get(f"/captures/{doc}").get_data(as_text=True))
    assert "2 items: the document and its amendments" in page

    rig.retract(doc)
    queue.enqueue("amendment", "retract-0001-of-doc",
                  rig.index.capture(doc).capture.history_path)
    sidecar = rig.data_dir / rig.index.capture(doc).capture.sidecar_path
    assert sidecar.parent.is_relative_to(rig.data_dir / "retracted")
    assert {s.destination: s.rows for s in read_status(sidecar)} == {"ehr": 3, "pacs": 3}
    page = _text(browser.get(f"/captures/{doc}").get_data(as_text=True))
    assert "pacs pending" in page  # a records officer sees it on the retracted item


def test_a_broken_status_file_shows_unknown_and_the_page_still_loads(rig, queue):
    cid = rig.file()
    _queued(rig, queue, cid)
    sidecar = rig.data_dir / rig.index.capture(cid).capture.sidecar_path
    sidecar.with_name(sidecar.name.removesuffix(".json") + ".forward.json").write_text("{")
    response = _signed_in(rig).get(f"/captures/{cid}")
    assert response.status_code == 200
    assert "status unreadable" in response.get_data(as_text=True)
