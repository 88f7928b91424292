"""What one queue row sends to one destination, and what the answer means.

DICOMweb (STOW-RS, ``POST {url}/studies``, one ``multipart/related`` request per row):

- a capture or document: its instance as first filed;
- an amendment with changes: the corrected instance (new SOP Instance UID) and a rejection
  note for the version it replaces, in one request;
- a retraction: the rejection note for every version sent.

FHIR (one request per row): a capture is created with ``POST {url}/Media`` (or
``DocumentReference``) and ``If-None-Exist`` on the capture's identifier, so a resend does not
duplicate; an amendment or retraction is a conditional update (``PUT {url}/Media?identifier=``)
of the same resource, a retraction setting ``status`` to ``entered-in-error``.

The outcome says whether to retry: no answer, 408, 429 and 5xx are worth another attempt;
any other refusal, or an item that cannot be built, fails the row with the reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import dicom, fhir
from .config import Destination, ForwardingConfig
from .filed import ORIGINAL, FiledCapture, FiledError, load_filed
from .queue import QueueItem
from .transport import HttpClient, TransportError

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_FAILED_SOP_SEQUENCE = "00081198"
_FAILURE_REASON = "00081197"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool = False
    error: str = ""


OK = Outcome(True)


def site_for(config: ForwardingConfig) -> dicom.DicomSite:
    return dicom.DicomSite(institution=config.institution, manufacturer=config.manufacturer)


def load_item(data_dir: Path, item: QueueItem) -> FiledCapture:
    """The capture as this row must send it: as filed, or up to this amendment."""
    upto = ORIGINAL if item.kind != "amendment" else item.item_id
    return load_filed(data_dir / item.payload_path, upto)


def dicom_instances(capture: FiledCapture, item_kind: str,
                    site: dicom.DicomSite) -> list[list[bytes]]:
    """The Part 10 files (each as chunks) a row sends to a PACS (empty: nothing to send)."""
    if item_kind != "amendment":
        return [dicom.current_instance_chunks(capture, site)]
    last = capture.applied[-1]
    if last.retract:
        return [[dicom.to_bytes(dicom.retraction_note(capture, site))]]
    if capture.retraction is not None or not last.changes:
        return []  # after a retraction nothing is corrected; an empty change sends nothing
    return [dicom.current_instance_chunks(capture, site),
            [dicom.to_bytes(dicom.correction_note(capture, site))]]


def multipart(parts: Sequence[Sequence[bytes]], boundary: str) -> tuple[list[bytes], str]:
    """A STOW-RS body (list of chunks, the instances not copied) and its content type."""
    chunks: list[bytes] = []
    for part in parts:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                   *part, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return chunks, f'multipart/related; type="application/dicom"; boundary={boundary}'


def _http_outcome(status: int, what: str) -> Outcome:
    if 200 <= status < 300:
        return OK
    return Outcome(False, status in RETRYABLE, f"{what}: HTTP {status}")


@dataclass(frozen=True)
class Request:
    """One built request, ready to send (building and sending are separate so the forwarder
    can build the next item while this one is on the wire)."""

    method: str
    path: str
    body: Sequence[bytes]
    headers: dict[str, str]
    what: str  # "STOW-RS", "FHIR Media", ...; error messages start with it


def stow_request(instances: Sequence[Sequence[bytes]]) -> Request | None:
    """The STOW-RS request for the instances (None: nothing to send)."""
    if not instances:
        return None
    body, content_type = multipart(instances, f"capture-station-{uuid.uuid4().hex}")
    return Request("POST", "/studies", body, {
        "Content-Type": content_type, "Accept": "application/dicom+json"}, "STOW-RS")


def _stow_refusals(body: bytes) -> Outcome | None:
    """A failure naming the DICOM failure reasons, if the STOW answer lists refused SOPs."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    failed = answer.get(_FAILED_SOP_SEQUENCE, {}).get("Value", []) if isinstance(
        answer, dict) else []
    if not failed:
        return None
    codes = sorted({str(f.get(_FAILURE_REASON, {}).get("Value", ["?"])[0])
                    for f in failed if isinstance(f, dict)})
    return Outcome(False, False, f"STOW-RS refused {len(failed)} instance(s), "
                                 f"failure reason {','.join(codes)}")


def send(client: HttpClient, request: Request | None) -> Outcome:
    """Send a built request; what the answer means for the row."""
    if request is None:
        return OK
    try:
        reply = client.request(request.method, request.path, request.body, request.headers)
    except TransportError as exc:
        return Outcome(False, True, f"{request.what}: {exc}")
    if request.what == "STOW-RS" and reply.status in (200, 202, 409) and reply.body:
        refused = _stow_refusals(reply.body)
        if refused is not None:
            return refused
    return _http_outcome(reply.status, request.what)


def stow(client: HttpClient, instances: Sequence[Sequence[bytes]]) -> Outcome:
    """POST the instances to ``{url}/studies``; a partial refusal is a failure with the codes."""
    return send(client, stow_request(instances))


def fhir_request(dest: Destination, capture: FiledCapture, item_kind: str,
                 dicomweb_url: str | None) -> Request:
    """Create (capture) or update (amendment, retraction) the capture's FHIR resource."""
    sop = dicom.instance_uid_of(capture)
    link = None
    if dest.fhir_content == "link" and dicomweb_url:
        study, series, instance = dicom.location_of(capture)
        link = f"{dicomweb_url}/studies/{study}/series/{series}/instances/{instance}"
    resource = fhir.resource_for(capture, sop_instance_uid=sop, link=link)
    kind = resource["resourceType"]
    search = fhir.search_by_identifier(capture.capture_id)
    headers = {"Content-Type": "application/fhir+json; charset=utf-8",
               "Accept": "application/fhir+json"}
    body = [fhir.to_json(resource)]
    if item_kind == "amendment":
        return Request("PUT", f"/{kind}?{search}", body, headers, f"FHIR {kind}")
    return Request("POST", f"/{kind}", body, {**headers, "If-None-Exist": search},
                   f"FHIR {kind}")


def prepare(data_dir: Path, config: ForwardingConfig, dest: Destination,
            item: QueueItem) -> Request | Outcome | None:
    """Build what a row sends (None: nothing to send; an Outcome: it cannot be built)."""
    try:
        capture = load_item(data_dir, item)
        if dest.kind == "dicomweb":
            return stow_request(dicom_instances(capture, item.kind, site_for(config)))
        pacs = next((d.url for d in config.destinations if d.kind == "dicomweb"), None)
        return fhir_request(dest, capture, item.kind, pacs)
    except (FiledError, dicom.DicomBuildError, fhir.FhirBuildError) as exc:
        return Outcome(False, False, f"cannot build: {exc}"[:300])


def deliver(data_dir: Path, config: ForwardingConfig, dest: Destination, client: HttpClient,
            item: QueueItem) -> Outcome:
    """Build and send one row; never raises for a bad item (the outcome says why)."""
    built = prepare(data_dir, config, dest, item)
    return built if isinstance(built, Outcome) else send(client, built)
