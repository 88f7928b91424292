"""Forwarding to a real Orthanc (Debian orthanc + orthanc-dicomweb) in a loopback-only namespace.

The forwarder runs as ``capture-receiver forward run`` inside the namespace (the only place
Orthanc's port exists); the test files captures into the practice data directory, queues them
the way the receiver does, and checks the PACS with QIDO-RS and WADO-RS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from practice.forwarding import dicom
from practice.forwarding.filed import ORIGINAL, load_filed
from practice.forwarding.queue import ForwardQueue
from practice.forwarding.uids import rejection_uid

from .dciodvfy import check_dciodvfy, needs_dciodvfy
from .helpers import file_amendment, file_document, file_photo, jpeg_bytes, write_config
from .orthanc import Namespace, Orthanc, make_env, needs_orthanc, stop, wait_until

pytestmark = [*needs_orthanc]
PORT = 8042
CLI = (sys.executable, "-m", "practice.cli")


@pytest.fixture
def pacs(tmp_path):
    ns = Namespace(f"cs-pacs-{os.getpid()}")
    orthanc = Orthanc(ns, tmp_path / "orthanc", PORT)
    try:
        orthanc.start()
        yield ns, orthanc
    finally:
        orthanc.stop()
        ns.delete()


def _forward_once(ns: Namespace, data_dir) -> subprocess.CompletedProcess:
    return ns.run(*CLI, "forward", "run", "--once",
                  "--data-dir", data_dir, check=False, timeout=120)


def _instances(ns: Namespace, orthanc: Orthanc, query: str) -> list:
    return ns.get_json(f"{orthanc.url}/instances?{query}")


def test_photo_and_document_stored_found_retrieved_unchanged_resent_once(tmp_path, pacs):
    ns, orthanc = pacs
    data = tmp_path / "practice"
    data.mkdir()
    write_config(data, {"name": "pacs", "kind": "dicomweb", "url": orthanc.url})
    image = jpeg_bytes((641, 481))
    capture_id, jpg = file_photo(data, image, patient_id="PX-1")
    doc_id, pdf = file_document(data, patient_id="PX-1", sequence=2)
    queue = ForwardQueue(data)
    queue.enqueue("capture", capture_id, jpg.relative_to(data))
    queue.enqueue("document", doc_id, pdf.relative_to(data))
    done = _forward_once(ns, data)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    found = ns.get_json(f"{orthanc.url}/instances?PatientID=PX-1&Modality=XC")
    assert len(found) == 1
    study, series, sop = dicom.location_of(load_filed(data, jpg, ORIGINAL))
    assert found[0]["00080018"]["Value"] == [sop]
    assert len(ns.get_json(f"{orthanc.url}/instances?PatientID=PX-1&Modality=DOC")) == 1
    status, body = ns.get(f"{orthanc.url}/studies/{study}/series/{series}/instances/{sop}"
                          "/frames/1", 'multipart/related; type="image/jpeg"; '
                          "transfer-syntax=1.2.840.10008.1.2.4.50")
    assert status == 200
    frame = _single_part(body)
    assert frame == image or frame == image + b"\0"

    # a resend (the queue lost, the station retried, an operator re-armed it) is the same
    (data / "forwarding.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (data / f"forwarding.sqlite{extra}").unlink(missing_ok=True)
    queue.close()
    queue = ForwardQueue(data)
    queue.enqueue("capture", capture_id, jpg.relative_to(data))
    assert _forward_once(ns, data).returncode == 0
    assert len(ns.get_json(f"{orthanc.url}/instances?PatientID=PX-1")) == 2
    queue.close()


def _single_part(body: bytes) -> bytes:
    """The payload of a one-part multipart/related body."""
    boundary = body.split(b"\r\n", 1)[0]
    part = body.split(boundary)[1]
    return part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")


def test_outage_queues_then_all_delivered_and_the_rejection_note_arrives(tmp_path, pacs):
    ns, orthanc = pacs
    data = tmp_path / "practice"
    data.mkdir()
    write_config(data, {"name": "pacs", "kind": "dicomweb", "url": orthanc.url})
    queue = ForwardQueue(data)
    orthanc.stop()
    forwarder = ns.popen(*CLI, "forward", "run",
                         "--data-dir", data, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=make_env())
    try:
        ids = []
        for n in range(5):
            capture_id, jpg = file_photo(data, patient_id="PX-2", sequence=n + 1)
            queue.enqueue("capture", capture_id, jpg.relative_to(data))
            ids.append((capture_id, jpg))
        wait_until(lambda: any(i.attempts for i in queue.items()), 20, "a failed attempt")
        assert all(i.state == "pending" for i in queue.items())
        assert "STOW-RS" in (queue.items()[0].last_error or "")
        orthanc.start()
        wait_until(lambda: queue.counts()["pacs"]["forwarded"] == 5, 30, "the backlog")
        assert len(ns.get_json(f"{orthanc.url}/instances?PatientID=PX-2&Modality=XC")) == 5

        capture_id, jpg = ids[0]
        retraction_id, note = file_amendment(jpg, capture_id, retract=True,
                                             reason="wrong_patient")
        queue.enqueue("amendment", retraction_id, note.relative_to(data))
        wait_until(lambda: queue.counts()["pacs"]["forwarded"] == 6, 30, "the rejection note")
    finally:
        forwarder.send_signal(signal.SIGTERM)
        stop(forwarder)
        queue.close()
    notes = ns.get_json(f"{orthanc.url}/instances?PatientID=PX-2&Modality=KO")
    assert [n["00080018"]["Value"][0] for n in notes] == [rejection_uid(capture_id,
                                                                        retraction_id)]


@needs_dciodvfy
def test_export_writes_what_is_sent_and_dciodvfy_accepts_it(tmp_path):
    data = tmp_path / "practice"
    data.mkdir()
    capture_id, _ = file_photo(data)
    doc_id, _ = file_document(data)
    for item, iod in ((capture_id, "VLPhotographicImage"), (doc_id, "EncapsulatedPDF")):
        out = tmp_path / f"{item}.dcm"
        subprocess.run([*CLI, "export", "--data-dir", data,
                        "--capture", item, "--format", "dicom", "--out", out], check=True,
                       timeout=60, env=make_env(), capture_output=True)
        check_dciodvfy(out, iod)
