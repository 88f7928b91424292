"""DICOM instances built from filed captures: content, determinism, and dciodvfy."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.encaps import generate_frames

from practice.forwarding import dicom
from practice.forwarding.codes import INCORRECT_WORKLIST_ENTRY, REJECTED_QUALITY
from practice.forwarding.filed import ORIGINAL, load_filed
from practice.forwarding.uids import instance_uid

from .dciodvfy import check_dciodvfy, needs_dciodvfy
from .helpers import file_amendment, file_document, file_photo, jpeg_bytes

SITE = dicom.DicomSite(institution="St Example Hospital")


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def test_photo_carries_the_jpeg_unchanged_and_the_capture_facts(tmp_path):
    image = jpeg_bytes((321, 241))
    capture_id, jpg = file_photo(tmp_path, image)
    ds = _read(dicom.to_bytes(dicom.photo_instance(load_filed(tmp_path, jpg), SITE)))
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.77.1.4"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert ds.Modality == "XC"
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert frame.rstrip(b"\0") == image.rstrip(b"\0") and len(frame) - len(image) in (0, 1)
    assert (ds.Rows, ds.Columns, ds.PhotometricInterpretation) == (241, 321, "YBR_FULL_422")
    assert ds.LossyImageCompression == "01" and ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert (ds.PatientID, ds.IssuerOfPatientID, ds.AdmissionID) == (
        "P-0042", "EXAMPLE-HOSP", "ENC-7")
    region = ds.AnatomicRegionSequence[0]
    assert (region.CodeValue, region.CodingSchemeDesignator) == ("85562004", "SCT")
    assert region.AnatomicRegionModifierSequence[0].CodeValue == "7771000"
    assert (ds.BodyPartExamined, ds.ImageLaterality) == ("HAND", "L")
    operator = ds.OperatorIdentificationSequence[0]
    assert operator.InstitutionName == "St Example Hospital"
    assert operator.PersonIdentificationCodeSequence[0].CodeValue == "nurse.jane"
    assert (ds.DeviceSerialNumber, ds.StationName) == ("st0123456789abcdef", "Room 4")
    assert ds.AcquisitionDateTime.startswith("20250304101112.345")
    block = ds.private_block(dicom.PRIVATE_GROUP, dicom.PRIVATE_CREATOR)
    assert block[0x01].value == "teaching" and block[0x04].value == capture_id
    assert ds.SOPInstanceUID == instance_uid(capture_id)


def test_chunks_sent_are_the_instance_byte_for_byte(tmp_path):
    _, odd = file_photo(tmp_path, jpeg_bytes((99, 77)))
    for jpg in (odd, file_photo(tmp_path, jpeg_bytes((64, 48)))[1]):
        capture = load_filed(tmp_path, jpg)
        whole = dicom.to_bytes(dicom.photo_instance(capture, SITE))
        assert b"".join(dicom.current_instance_chunks(capture, SITE)) == whole
        assert any(chunk == capture.payload for chunk in dicom.current_instance_chunks(
            capture, SITE))


def test_same_capture_same_bytes_other_capture_other_instance_same_study(tmp_path):
    _, first = file_photo(tmp_path)
    _, second = file_photo(tmp_path)
    build = lambda path: dicom.to_bytes(dicom.photo_instance(load_filed(tmp_path, path), SITE))  # noqa: E731
    assert build(first) == build(first)
    a, b = _read(build(first)), _read(build(second))
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert (a.StudyInstanceUID, a.SeriesInstanceUID) == (b.StudyInstanceUID, b.SeriesInstanceUID)
    _, other_visit = file_photo(tmp_path, encounter="ENC-8", session_id="session-2")
    c = _read(build(other_visit))
    assert c.StudyInstanceUID != a.StudyInstanceUID and c.SeriesInstanceUID != a.SeriesInstanceUID


def test_without_an_encounter_the_study_is_the_day(tmp_path):
    _, morning = file_photo(tmp_path, encounter=None)
    _, evening = file_photo(tmp_path, encounter=None, captured_at="2025-03-04T18:00:00+00:00")
    _, next_day = file_photo(tmp_path, encounter=None, captured_at="2025-03-05T08:00:00+00:00")
    studies = [dicom.location_of(load_filed(tmp_path, p))[0] for p in (morning, evening, next_day)]
    assert studies[0] == studies[1] != studies[2]
    assert "AdmissionID" not in dicom.photo_instance(load_filed(tmp_path, morning), SITE)


def test_progressive_jpeg_is_refused_not_reencoded(tmp_path):
    _, jpg = file_photo(tmp_path, jpeg_bytes(progressive=True))
    with pytest.raises(dicom.DicomBuildError, match="progressive"):
        dicom.photo_instance(load_filed(tmp_path, jpg), SITE)


def test_amendment_gives_a_corrected_instance_and_a_note_rejecting_the_old(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    amendment_id, _ = file_amendment(jpg, capture_id, changes={"laterality": "right"})
    original = load_filed(tmp_path, jpg, ORIGINAL)
    amended = load_filed(tmp_path, jpg, amendment_id)
    corrected = dicom.photo_instance(amended, SITE)
    assert corrected.ImageLaterality == "R"
    assert corrected.SOPInstanceUID == instance_uid(capture_id, amendment_id)
    assert corrected.SourceImageSequence[0].ReferencedSOPInstanceUID == instance_uid(capture_id)
    note = dicom.correction_note(amended, SITE)
    rejected = note.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert [r.ReferencedSOPInstanceUID for r in rejected.ReferencedSOPSequence] == [
        dicom.instance_uid_of(original)]
    assert note.ConceptNameCodeSequence[0].CodeValue == REJECTED_QUALITY.value


def test_retraction_note_rejects_every_version_with_the_reason_title(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    amendment_id, _ = file_amendment(jpg, capture_id, changes={"body_site": "foot"})
    file_amendment(jpg, capture_id, retract=True, reason="wrong_patient",
                   at="2025-03-04T12:00:00+00:00")
    note = dicom.retraction_note(load_filed(tmp_path, jpg), SITE)
    assert note.Modality == "KO" and note.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
    assert note.ConceptNameCodeSequence[0].CodeValue == INCORRECT_WORKLIST_ENTRY.value
    refs = [item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            for item in note.ContentSequence]
    assert refs == [instance_uid(capture_id), instance_uid(capture_id, amendment_id)]


@needs_dciodvfy
def test_dciodvfy_finds_no_error_in_any_instance(tmp_path):
    capture_id, jpg = file_photo(tmp_path)
    _, gray = file_photo(tmp_path, encounter=None, operator=None, body_site="elbow",
                         laterality=None)
    gray.write_bytes(_gray_jpeg())
    doc_id, pdf = file_document(tmp_path)
    amendment_id, _ = file_amendment(jpg, capture_id, changes={"laterality": "bilateral"})
    file_amendment(pdf, doc_id, retract=True, reason="duplicate")
    built = {
        "photo": (dicom.photo_instance(load_filed(tmp_path, jpg, ORIGINAL), SITE),
                  "VLPhotographicImage"),
        "gray": (dicom.photo_instance(load_filed(tmp_path, gray), dicom.DicomSite()),
                 "VLPhotographicImage"),
        "corrected": (dicom.photo_instance(load_filed(tmp_path, jpg, amendment_id), SITE),
                      "VLPhotographicImage"),
        "correction-note": (dicom.correction_note(load_filed(tmp_path, jpg, amendment_id), SITE),
                            "KeyObjectSelectionDocument"),
        "document": (dicom.document_instance(load_filed(tmp_path, pdf, ORIGINAL), SITE),
                     "EncapsulatedPDF"),
        "retraction": (dicom.retraction_note(load_filed(tmp_path, pdf), SITE),
                       "KeyObjectSelectionDocument"),
    }
    for name, (ds, iod) in built.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(dicom.to_bytes(ds))
        check_dciodvfy(path, iod)


def _gray_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64, 48), 128).save(buf, "JPEG")
    return buf.getvalue()
