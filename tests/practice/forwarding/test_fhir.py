"""FHIR resources from filed captures, validated with fhir.resources."""

from __future__ import annotations

import base64

import pytest

from practice.forwarding import fhir
from practice.forwarding.filed import load_filed

from .helpers import file_amendment, file_document, file_photo, jpeg_bytes


def test_media_has_subject_encounter_site_operator_device_created_and_content(tmp_path):
    image = jpeg_bytes((100, 80))
    capture_id, jpg = file_photo(tmp_path, image)
    media = fhir.media(load_filed(tmp_path, jpg), sop_instance_uid="2.25.7")
    assert media["resourceType"] == "Media" and media["status"] == "completed"
    assert media["subject"]["identifier"] == {
        "system": "urn:capture-station:patient:EXAMPLE-HOSP", "value": "P-0042"}
    assert media["encounter"]["identifier"]["value"] == "ENC-7"
    assert media["bodySite"]["coding"][0]["code"] == "85562004"
    assert media["bodySite"]["extension"][0]["valueCoding"]["code"] == "7771000"
    assert media["operator"]["identifier"]["value"] == "nurse.jane"
    assert media["device"]["identifier"]["value"] == "st0123456789abcdef"
    assert media["createdDateTime"] == "2025-03-04T10:11:12.345+00:00"
    assert base64.b64decode(media["content"]["data"]) == image
    assert (media["width"], media["height"]) == (100, 80)
    assert {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{capture_id}"} in media[
        "identifier"]


def test_oid_issuer_becomes_an_oid_system_and_a_link_replaces_inline_data(tmp_path):
    _, jpg = file_photo(tmp_path, issuer="1.2.826.0.1.3680043")
    media = fhir.media(load_filed(tmp_path, jpg), link="https://pacs.example/wado/x")
    assert media["subject"]["identifier"]["system"] == "urn:oid:1.2.826.0.1.3680043"
    assert media["content"]["url"] == "https://pacs.example/wado/x"
    assert "data" not in media["content"]


def test_document_reference_and_retraction(tmp_path):
    capture_id, pdf = file_document(tmp_path)
    doc = fhir.resource_for(load_filed(tmp_path, pdf))
    assert doc["resourceType"] == "DocumentReference" and doc["status"] == "current"
    assert doc["masterIdentifier"]["value"] == f"urn:uuid:{capture_id}"
    assert doc["content"][0]["attachment"]["contentType"] == "application/pdf"
    assert doc["context"]["encounter"][0]["identifier"]["value"] == "ENC-7"
    file_amendment(pdf, capture_id, retract=True, reason="duplicate")
    assert fhir.resource_for(load_filed(tmp_path, pdf))["status"] == "entered-in-error"


def test_invalid_resource_is_refused_naming_the_element_not_the_value():
    with pytest.raises(fhir.FhirBuildError, match="createdDateTime") as info:
        fhir.validated({"resourceType": "Media", "status": "completed", "content": {},
                        "createdDateTime": "P-0042 yesterday"})
    assert "P-0042" not in str(info.value)
