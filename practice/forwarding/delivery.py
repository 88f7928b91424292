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
from .filed import ORIGINAL, FiledCapture, FiledError, FiledMoved, load_filed
from .queue import QueueItem
from .transport import HttpClient, TransportError

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_FAILED_SOP_SEQUENCE = "00081198"
_FAILURE_REASON = "00081197"
_REFERENCED_SOP_INSTANCE = "00081155"


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
    return load_filed(data_dir, data_dir / item.payload_path, upto)


@dataclass(frozen=True)
class Instance:
    """One Part 10 file to store, as chunks (the JPEG among them uncopied)."""

    sop_uid: str
    chunks: list[bytes]


def _note(ds: dicom.Dataset) -> Instance:
    return Instance(str(ds.SOPInstanceUID), [dicom.to_bytes(ds)])


def dicom_instances(capture: FiledCapture, item_kind: str,
                    site: dicom.DicomSite) -> list[Instance]:
    """The instances a row sends to a PACS (empty: nothing to send)."""
    if item_kind != "amendment":
        return [Instance(dicom.instance_uid_of(capture),
                         dicom.current_instance_chunks(capture, site))]
    last = capture.applied[-1]
    if last.retract:
        return [_note(dicom.retraction_note(capture, site))]
    if capture.retraction is not None or not last.changes:
        return []  # after a retraction nothing is corrected; an empty change sends nothing
    return [Instance(dicom.instance_uid_of(capture), dicom.current_instance_chunks(capture, site)),
            _note(dicom.correction_note(capture, site))]


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
    instances: tuple[Instance, ...] = ()  # STOW-RS: what the body holds

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.body)


def stow_request(instances: Sequence[Instance]) -> Request | None:
    """The STOW-RS request for the instances (None: nothing to send)."""
    if not instances:
        return None
    body, content_type = multipart([i.chunks for i in instances],
                                   f"capture-station-{uuid.uuid4().hex}")
    return Request("POST", "/studies", body, {
        "Content-Type": content_type, "Accept": "application/dicom+json"}, "STOW-RS",
        tuple(instances))


def _refused(body: bytes) -> dict[str, str]:
    """SOP Instance UID -> failure reason of every instance a STOW-RS answer lists as refused
    ("?" for an entry that names no instance)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    failed = answer.get(_FAILED_SOP_SEQUENCE, {}).get("Value", []) if isinstance(
        answer, dict) else []
    refused = {}
    for entry in failed:
        if isinstance(entry, dict):
            uid = (entry.get(_REFERENCED_SOP_INSTANCE, {}).get("Value") or ["?"])[0]
            refused[str(uid)] = str((entry.get(_FAILURE_REASON, {}).get("Value") or ["?"])[0])
    return refused


def send_stow(client: HttpClient, requests: Sequence[Request]) -> list[Outcome]:
    """Several rows' STOW-RS requests sent as one (fewer round trips, for the PACS too); one
    outcome per row: a row fails only if the answer refuses one of its own instances."""
    merged = stow_request([i for r in requests for i in r.instances])
    if merged is None:
        return [OK] * len(requests)
    try:
        reply = client.request(merged.method, merged.path, merged.body, merged.headers)
    except TransportError as exc:
        return [Outcome(False, True, f"STOW-RS: {exc}")] * len(requests)
    refused = _refused(reply.body) if reply.status in (200, 202, 409) and reply.body else {}
    if not refused:
        return [_http_outcome(reply.status, "STOW-RS")] * len(requests)
    outcomes = []
    for request in requests:
        mine = [refused[i.sop_uid] for i in request.instances if i.sop_uid in refused]
        if not mine and "?" in refused:  # a refusal naming no instance: could be any row's
            mine = [refused["?"]]
        outcomes.append(Outcome(False, False, f"STOW-RS refused {len(mine)} instance(s), "
                                              f"failure reason {','.join(sorted(set(mine)))}")
                        if mine else OK)
    return outcomes


def send(client: HttpClient, request: Request | None) -> Outcome:
    """Send a built request; what the answer means for the row."""
    if request is None:
        return OK
    if request.what == "STOW-RS":
        return send_stow(client, [request])[0]
    try:
        reply = client.request(request.method, request.path, request.body, request.headers)
    except TransportError as exc:
        return Outcome(False, True, f"{request.what}: {exc}")
    return _http_outcome(reply.status, request.what)


def stow(client: HttpClient, instances: Sequence[Instance]) -> Outcome:
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
    except FiledMoved as exc:  # a retraction moved it this very moment: try again shortly
        return Outcome(False, True, f"cannot build yet: {exc}"[:300])
    except (FiledError, dicom.DicomBuildError, fhir.FhirBuildError) as exc:
        return Outcome(False, False, f"cannot build: {exc}"[:300])


def deliver(data_dir: Path, config: ForwardingConfig, dest: Destination, client: HttpClient,
            item: QueueItem) -> Outcome:
    """Build and send one row; never raises for a bad item (the outcome says why)."""
    built = prepare(data_dir, config, dest, item)
    return built if isinstance(built, Outcome) else send(client, built)
