"""The practice UI's server time: a patient page with 500 captures, a search among 10,000
patients, each against a same-run baseline.

``patient_page_ms``: p50 of ``GET /patients/<ref>`` (Flask test client, signed in, audit log
written with fsync as in production) for a patient with 500 filed captures; baseline: the
same page of a patient with one capture. ``search_ms``: p50 of ``POST /search`` with a
scanned wristband's text among 10,000 patients (the answer is the redirect to the patient);
baseline: an empty search (the same request path, no lookup). ``patient_page_forwarding_ms``:
the 500-capture page again once the real forward queue has written a status file for each
capture (two destinations), so every tile shows its badges; baseline: ``patient_page_ms``.
The data are filed by
:func:`practice.filing.file_capture` and indexed by the real index in a temporary directory
on disk, so each request's audit record is fsynced as in production (only the index build
runs with ``synchronous=OFF``, to keep the setup short; no filing is measured).
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tests.bench import Figure

PAGE_CAPTURES = 500
PATIENTS = 10_000
REPEATS = 25
LAST_TABLE = ""


def _file(data_dir: Path, index, station_id: str, patient_id: str, n: int, image: bytes) -> None:
    from practice.filing import file_capture

    capture_id = str(uuid.UUID(int=uuid.uuid4().int))
    staged = data_dir / "staging" / f"{capture_id}.jpg"
    staged.write_bytes(image)
    day = 1 + n % 28
    main = file_capture(
        data_dir / "inbox", capture_id,
        {"patient_id": patient_id, "issuer": "GS1", "consent": "teaching",
         "body_site": ("hand", "knee", "arm", "face")[n % 4], "laterality": "left",
         "operator": "nina", "station_name": "Exam room 3", "session_id": f"s{n // 10}",
         "captured_at": f"2026-{1 + n // 28 % 12:02d}-{day:02d}T10:{n % 60:02d}:00+00:00",
         "clock_synced": True, "provenance": "scanned-gs1", "sequence": n},
        staged, image_sha256=hashlib.sha256(image).hexdigest(), station_id=station_id,
        received_at="2026-01-01T10:00:05Z", sealed_sha256="0" * 64,
        sealed_path=f"sealed/{capture_id}")
    index.ingest(main.with_suffix(".json"))


def _p50(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run() -> list[Figure]:
    from barcode.gs1 import with_check_digit
    from practice.accounts import ROLES
    from practice.audit import PracticeAudit
    from practice.patientfile import PatientIndex
    from practice.store import ReceiverStore
    from practice.web.app import create_app
    from tests.practice.web.conftest import Browser, enrol_station, jpeg
    from websecurity.accounts import Accounts

    root = Path(tempfile.mkdtemp(prefix="bench-pf-"))
    try:
        data_dir = root / "receiver"
        (data_dir / "staging").mkdir(parents=True)
        store = ReceiverStore(data_dir)
        station_id = enrol_station(store)
        index = PatientIndex(data_dir)
        index._conn.execute("PRAGMA synchronous=OFF")  # setup only: filing speed is not measured
        image = jpeg((64, 48))
        big = with_check_digit("79512345000000001")
        small = with_check_digit("79512345000000002")
        for n in range(PAGE_CAPTURES):
            _file(data_dir, index, station_id, big, n, image)
        _file(data_dir, index, station_id, small, 0, image)
        for n in range(PATIENTS - 2):
            _file(data_dir, index, station_id, with_check_digit(f"795123451{n:07d}"), n, image)
        index._conn.execute("PRAGMA synchronous=FULL")
        accounts = Accounts(data_dir / "accounts.db", ROLES)
        accounts.add("cleo", "clinician", password="clinician-password-1")
        audit = PracticeAudit(data_dir, fsync=True)
        app = create_app(index=index, stations=store, accounts=accounts, audit=audit)
        browser = Browser(app.test_client())
        browser.login("cleo", "clinician-password-1")
        big_ref, small_ref = (index.pseudonyms.ref("GS1", p) for p in (big, small))

        def page(ref: str):
            def get() -> None:
                response = browser.get(f"/patients/{ref}")
                assert response.status_code == 200
            return get

        def search(text: str, status: int):
            def post() -> None:
                assert browser.post("/search", {"q": text}).status_code == status
            return post

        page_ms, page_base = _p50(page(big_ref)), _p50(page(small_ref))
        search_ms = _p50(search(f"(8018){big}(8019)2611270001", 303))
        search_base = _p50(search("", 200))
        forwarding_ms = _p50(page(big_ref)) if _queue_all(data_dir, index, big) else 0.0
        audit.close()
        index.close()
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [
        Figure("patient_page_ms", page_ms, "ms", "<= 150",
               f"1-capture page {page_base:.2f} ms"),
        Figure("search_ms", search_ms, "ms", "<= 50", f"empty search {search_base:.2f} ms"),
        Figure("patient_page_forwarding_ms", forwarding_ms, "ms", "<= 150",
               f"patient_page_ms {page_ms:.1f} ms (no status files)"),
    ]


def _queue_all(data_dir: Path, index, patient_id: str) -> bool:
    """Queue every capture of the patient for a PACS and an EHR (the queue writes each
    capture's ``<stem>.forward.json``); True when done."""
    from practice.forwarding.queue import ForwardQueue
    from practice.patientfile import PatientKey
    from tests.practice.forwarding.helpers import write_config

    write_config(data_dir, {"name": "pacs", "kind": "dicomweb",
                            "url": "http://127.0.0.1:9/dicom-web"},
                 {"name": "ehr", "kind": "fhir", "url": "http://127.0.0.1:9/fhir"})
    queue = ForwardQueue(data_dir)
    try:
        pfile = index.patient_file(PatientKey("GS1", patient_id))
        for capture in pfile.captures():
            queue.enqueue("capture", capture.item_id, capture.file_path)
    finally:
        queue.close()
    return True
