"""FHIR resources from filed captures: what goes to the EHR (docs/forwarding.md, "FHIR").

A photo becomes a ``Media``, a document a ``DocumentReference``, both validated with
``fhir.resources`` (its R4B models: Media and DocumentReference are the same in R4 and R4B
for every element used here). References are logical (by identifier), because the practice
server does not know the EHR's resource ids; the capture id is the business identifier, so
a resend is recognised (conditional create) and an amendment updates the same resource.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.media import Media
from pydantic import ValidationError

from ..errors import PracticeError
from .codes import BODY_SITES, LATERALITY, document_title
from .dicom import jpeg_facts
from .filed import FiledCapture

ID_SYSTEM = "urn:ietf:rfc:3986"
DICOM_UID_SYSTEM = "urn:dicom:uid"
LOINC_SYSTEM = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OPERATOR_SYSTEM = "urn:capture-station:operator"
STATION_SYSTEM = "urn:capture-station:station"
LATERALITY_EXTENSION = "urn:capture-station:fhir:laterality"
CONSENT_EXTENSION = "urn:capture-station:fhir:consent"
_OID_RE = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


class FhirBuildError(PracticeError, ValueError):
    """A resource failed validation (the message names the element, never a value)."""


def capture_identifier(capture_id: str) -> dict[str, str]:
    return {"system": ID_SYSTEM, "value": f"urn:uuid:{capture_id}"}


def search_by_identifier(capture_id: str) -> str:
    """The FHIR search that finds a capture's resource: ``identifier=system|value``."""
    return "identifier=" + quote(f"{ID_SYSTEM}|urn:uuid:{capture_id}", safe="")


def issuer_system(issuer: object, what: str = "patient") -> str:
    """The identifier system of an issuer: its own URI or OID, else a project URN."""
    text = str(issuer or "unknown")
    if what == "patient" and (text.startswith(("urn:", "http://", "https://"))):
        return text
    if what == "patient" and _OID_RE.fullmatch(text):
        return f"urn:oid:{text}"
    return f"urn:capture-station:{what}:{quote(text, safe='')}"


def _ref(kind: str, system: str, value: object, display: object = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"type": kind, "identifier": {"system": system, "value": str(value)}}
    if display:
        ref["display"] = str(display)
    return ref


def _attachment(capture: FiledCapture, content_type: str, link: str | None) -> dict[str, Any]:
    data = capture.payload
    out: dict[str, Any] = {
        "contentType": content_type,
        "size": len(data),
        "hash": base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode(),
        "creation": capture.metadata.get("captured_at"),
    }
    if link:
        out["url"] = link
    else:
        out["data"] = base64.b64encode(data).decode("ascii")
    return out


def _common(capture: FiledCapture) -> dict[str, Any]:
    meta = capture.metadata
    out: dict[str, Any] = {
        "subject": _ref("Patient", issuer_system(meta.get("issuer")), meta.get("patient_id")),
    }
    if meta.get("consent"):
        out["extension"] = [{"url": CONSENT_EXTENSION, "valueCode": str(meta["consent"])}]
    return out


def _device(meta: dict[str, Any]) -> dict[str, Any]:
    return _ref("Device", STATION_SYSTEM, meta.get("station_id"), meta.get("station_name"))


def _body_site(meta: dict[str, Any]) -> dict[str, Any] | None:
    site, side = meta.get("body_site"), meta.get("laterality")
    if not site:
        return None
    concept: dict[str, Any] = {"text": " ".join(str(v) for v in (side, site) if v)}
    known = BODY_SITES.get(str(site))
    if known is not None:
        concept["coding"] = [{"system": SNOMED, "code": known[0].value,
                              "display": known[0].meaning}]
    coded_side = LATERALITY.get(str(side or ""))
    if coded_side is not None:
        concept["extension"] = [{"url": LATERALITY_EXTENSION, "valueCoding": {
            "system": SNOMED, "code": coded_side[0].value, "display": coded_side[0].meaning}}]
    return concept


def media(capture: FiledCapture, *, sop_instance_uid: str | None = None,
          link: str | None = None) -> dict[str, Any]:
    """The ``Media`` of a photo (its current version; ``entered-in-error`` once retracted)."""
    meta = capture.metadata
    facts = jpeg_facts(capture.payload)
    identifiers = [capture_identifier(capture.capture_id)]
    if sop_instance_uid:
        identifiers.append({"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{sop_instance_uid}"})
    resource: dict[str, Any] = {
        "resourceType": "Media",
        **_common(capture),
        "identifier": identifiers,
        "status": "entered-in-error" if capture.retraction else "completed",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type",
                             "code": "image", "display": "Image"}]},
        "modality": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM",
                                 "code": "XC", "display": "External-camera Photography"}]},
        "createdDateTime": meta.get("captured_at"),
        "device": _device(meta),
        "height": facts.rows,
        "width": facts.columns,
        "content": _attachment(capture, "image/jpeg", link),
    }
    if meta.get("received_at"):
        resource["issued"] = meta["received_at"]
    if meta.get("encounter"):
        resource["encounter"] = _ref("Encounter", issuer_system(meta.get("issuer"), "encounter"),
                                     meta["encounter"])
    if meta.get("operator"):
        resource["operator"] = _ref("Practitioner", OPERATOR_SYSTEM, meta["operator"])
    if meta.get("station_name"):
        resource["deviceName"] = str(meta["station_name"])
    site = _body_site(meta)
    if site is not None:
        resource["bodySite"] = site
    return validated(resource)


def _document_type(document_type: object) -> dict[str, Any]:
    title, code = document_title(document_type)
    if code is None:
        return {"text": title}
    return {"coding": [{"system": LOINC_SYSTEM, "code": code.value, "display": code.meaning}],
            "text": title}


def document_reference(capture: FiledCapture, *, sop_instance_uid: str | None = None,
                       link: str | None = None) -> dict[str, Any]:
    """The ``DocumentReference`` of a scanned document (``entered-in-error`` once retracted)."""
    meta = capture.metadata
    identifiers = []
    if sop_instance_uid:
        identifiers.append({"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{sop_instance_uid}"})
    authors = [_device(meta)]
    if meta.get("operator"):
        authors.insert(0, _ref("Practitioner", OPERATOR_SYSTEM, meta["operator"]))
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        **_common(capture),
        "masterIdentifier": capture_identifier(capture.capture_id),
        "status": "entered-in-error" if capture.retraction else "current",
        "docStatus": "final",
        "type": _document_type(meta.get("document_type")),
        "date": meta.get("captured_at"),
        "author": authors,
        "content": [{"attachment": _attachment(capture, "application/pdf", link)}],
    }
    if identifiers:
        resource["identifier"] = identifiers
    context: dict[str, Any] = {}
    if meta.get("encounter"):
        context["encounter"] = [_ref("Encounter",
                                     issuer_system(meta.get("issuer"), "encounter"),
                                     meta["encounter"])]
    site = _body_site(meta)
    if site is not None:
        context["related"] = [{"display": site["text"]}]
    if context:
        resource["context"] = context
    return validated(resource)


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` if ``fhir.resources`` accepts it; else :class:`FhirBuildError`."""
    model = Media if resource["resourceType"] == "Media" else DocumentReference
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        where = "; ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
        raise FhirBuildError(f"{resource['resourceType']} is not valid FHIR at {where}") from None
    return resource


def resource_for(capture: FiledCapture, **kwargs: Any) -> dict[str, Any]:
    """Media for a photo, DocumentReference for a document."""
    if capture.kind == "document":
        return document_reference(capture, **kwargs)
    return media(capture, **kwargs)


def to_json(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False, sort_keys=True).encode("utf-8")
