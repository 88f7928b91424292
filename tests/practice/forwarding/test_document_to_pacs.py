"""End to end: a document sealed like a station seals it (a two-page PDF from img2pdf, one
CCITT G4 page and one JPEG page) is uploaded over TLS to the real receiver, which checks,
files and queues it; the forwarder (inside the namespace that holds a real Orthanc) stores it
as DICOM Encapsulated PDF; QIDO finds it, WADO-RS returns an instance that dciodvfy accepts
and whose encapsulated document is the station's PDF byte for byte; the same queue sends the
EHR a DocumentReference."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time

import pydicom

from practice.forwarding import dicom
from practice.forwarding.filed import ORIGINAL, load_filed
from practice.forwarding.forwarder import Forwarder
from practice.forwarding.queue import ForwardQueue
from sync.client import ReceiverClient
from sync.protocol import item_path
from tests.practice.documents import seal_document, station_pdf
from tests.sync.helpers import new_station, start_receiver

from .dciodvfy import check_dciodvfy, needs_dciodvfy
from .helpers import Running, write_config
from .orthanc import Namespace, Orthanc, needs_orthanc

pytestmark = [*needs_orthanc, needs_dciodvfy]
PORT = 8052
CLI = (sys.executable, "-m", "practice.cli")


def _single_part(body: bytes) -> bytes:
    boundary = body.split(b"\r\n", 1)[0]
    return body.split(boundary)[1].split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")


def test_a_station_document_reaches_the_pacs_as_encapsulated_pdf_and_the_ehr(tmp_path):
    ns = Namespace(f"cs-doc-{os.getpid()}")
    orthanc = Orthanc(ns, tmp_path / "orthanc", PORT)
    ehr = Running()
    data = tmp_path / "practice"
    data.mkdir()
    write_config(data, {"name": "pacs", "kind": "dicomweb", "url": orthanc.url},
                 {"name": "ehr", "kind": "fhir", "url": f"{ehr.url}/fhir"})
    queue = ForwardQueue(data)
    receiver = start_receiver(data, forward_queue=queue)
    try:
        orthanc.start()
        station = new_station("exam-doc")
        receiver.enrol_directly(station)
        pdf = station_pdf()
        doc_id, sealed = seal_document(receiver.keys.practice_public, station, pdf,
                                       patient_id="PX-DOC", document_type="consent-form")
        with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                            station.station_id, timeout=30) as client:
            response = client.request("PUT", item_path("document", doc_id), body=sealed,
                                      sha256_hex=hashlib.sha256(sealed).hexdigest())
        assert response.status == 201
        assert {i.destination for i in queue.items(doc_id)} == {"pacs", "ehr"}

        # in the namespace only the PACS is reachable: the EHR row waits for its retry
        done = ns.run(*CLI, "forward", "run", "--once", "--data-dir", data, check=False,
                      timeout=120)
        rows = {i.destination: i for i in queue.items(doc_id)}
        assert rows["pacs"].state == "forwarded", done.stderr.decode()[-2000:]
        assert rows["ehr"].state == "pending" and rows["ehr"].attempts == 1

        found = ns.get_json(f"{orthanc.url}/instances?PatientID=PX-DOC&Modality=DOC")
        filed = load_filed(data, data / rows["pacs"].payload_path, ORIGINAL)
        study, series, sop = dicom.location_of(filed)
        assert [f["00080018"]["Value"] for f in found] == [[sop]]
        status, body = ns.get(f"{orthanc.url}/studies/{study}/series/{series}/instances/{sop}",
                              'multipart/related; type="application/dicom"')
        assert status == 200
        stored = tmp_path / "stored.dcm"
        stored.write_bytes(_single_part(body))
        check_dciodvfy(stored, "EncapsulatedPDF")
        ds = pydicom.dcmread(io.BytesIO(stored.read_bytes()))
        assert ds.SOPClassUID == dicom.ENCAPSULATED_PDF
        assert ds.DocumentTitle == "Consent form"
        assert ds.ConceptNameCodeSequence[0].CodeValue == "59284-0"
        assert ds.EncapsulatedDocumentLength == len(pdf)
        assert bytes(ds.EncapsulatedDocument)[:len(pdf)] == pdf

        # the EHR is on this side of the namespace: drain that destination here
        time.sleep(queue.config.retry_max_s + 0.1)  # the EHR row is due again
        forwarder = Forwarder(queue)
        try:
            forwarder.drain(next(d for d in queue.config.destinations if d.name == "ehr"))
        finally:
            forwarder.stop()
        [resource] = ehr.state.fhir.values()
        assert resource["resourceType"] == "DocumentReference"
        assert resource["masterIdentifier"]["value"].endswith(doc_id)
        assert resource["type"]["coding"][0]["code"] == "59284-0"
        assert {i.destination: i.state for i in queue.items(doc_id)} == {
            "pacs": "forwarded", "ehr": "forwarded"}
    finally:
        receiver.stop()
        queue.close()
        ehr.stop()
        orthanc.stop()
        ns.delete()
