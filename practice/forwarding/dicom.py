"""DICOM instances from filed captures: what goes to the PACS (docs/forwarding.md, "DICOM").

- a photo becomes a **VL Photographic Image** (modality XC) with the station's JPEG embedded
  unchanged (JPEG Baseline transfer syntax, ``YBR_FULL_422``, lossy compression attributes);
- a document becomes an **Encapsulated PDF** (modality DOC) holding the PDF unchanged;
- a retraction becomes an **IOCM rejection note** (Key Object Selection, modality KO, title
  from CID 7011) that references every version the PACS was sent; an amendment becomes a
  corrected instance (new SOP Instance UID) plus a rejection note for the version it replaces.

Every UID comes from :mod:`.uids`, so building twice gives the same bytes except for nothing:
no "now" goes in (creation date/time is the capture's own time), so a resend is identical.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata as pkg_metadata

from PIL import Image, JpegImagePlugin, UnidentifiedImageError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    KeyObjectSelectionDocumentStorage,
)

from ..errors import PracticeError
from ..filing import parse_time
from .codes import BODY_SITES, LATERALITY, Code, document_title, rejection_title
from .filed import FiledCapture
from .uids import (
    derived_uid,
    instance_uid,
    rejection_series_uid,
    rejection_uid,
    series_uid,
    study_uid,
)

VL_PHOTOGRAPHIC = UID("1.2.840.10008.5.1.4.1.1.77.1.4")
ENCAPSULATED_PDF = UID("1.2.840.10008.5.1.4.1.1.104.1")
IMPLEMENTATION_UID = derived_uid("implementation")
#: Private block holding what DICOM has no standard home for (docs/forwarding.md).
PRIVATE_GROUP = 0x0011
PRIVATE_CREATOR = "CAPTURE-STATION 1"
#: Series numbers: photos and documents 1, rejection notes 999 (a viewer lists them last).
PHOTO_SERIES_NUMBER, REJECTION_SERIES_NUMBER = 1, 999
LOCAL_SCHEME = "99CAPSTN"


class DicomBuildError(PracticeError, ValueError):
    """A filed capture cannot become a valid instance (for example a progressive JPEG)."""


@dataclass(frozen=True)
class DicomSite:
    """What the practice adds to every instance: who made it, where."""

    institution: str = ""
    manufacturer: str = "capture-station project"
    model: str = "capture-station"


@functools.cache
def software_version() -> str:
    """This software's version (read once: the package metadata is parsed each time asked)."""
    try:
        return pkg_metadata.version("capture-station")
    except pkg_metadata.PackageNotFoundError:
        return "unknown"


# -- small value helpers ------------------------------------------------------------------------

def _da(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d")


def _tm(when: dt.datetime) -> str:
    return when.strftime("%H%M%S.") + f"{when.microsecond:06d}"


def _offset(when: dt.datetime) -> str:
    minutes = int((when.utcoffset() or dt.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _text(value: object, limit: int) -> str:
    """A metadata value as DICOM text of at most ``limit`` characters (no backslash)."""
    if value is None:
        return ""
    return str(value).replace("\\", "/")[:limit]


def _code(code: Code) -> Dataset:
    item = Dataset()
    if len(code.value) > 16:
        item.LongCodeValue = code.value
    else:
        item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme
    item.CodeMeaning = code.meaning[:64]
    return item


def _yes(value: object) -> str:
    return "YES" if value is True else "NO"


# -- modules shared by every instance ------------------------------------------------------------

@dataclass(frozen=True)
class _Frame:
    """Where an instance sits: study, series and times, from the capture."""

    study: str
    series: str
    when: dt.datetime


def _frame(capture: FiledCapture) -> _Frame:
    meta = capture.metadata
    when = parse_time(meta.get("captured_at")) or parse_time(meta.get("received_at"))
    if when is None:
        raise DicomBuildError("the capture has no usable capture time")
    visit = meta.get("encounter") or f"day:{_da(when)}"
    session = meta.get("session_id") or f"day:{_da(when)}"
    modality = "DOC" if capture.kind == "document" else "XC"
    return _Frame(study_uid(meta.get("issuer"), meta.get("patient_id"), str(visit)),
                  series_uid(str(meta.get("station_id") or ""), str(session), modality), when)


def _patient_and_study(ds: Dataset, capture: FiledCapture, frame: _Frame) -> None:
    meta = capture.metadata
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = ""
    ds.PatientID = _text(meta.get("patient_id"), 64)
    if meta.get("issuer"):
        ds.IssuerOfPatientID = _text(meta.get("issuer"), 64)
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = frame.study
    ds.StudyDate = _da(frame.when)
    ds.StudyTime = _tm(frame.when)
    ds.ReferringPhysicianName = ""
    ds.StudyID = frame.study[-8:]
    ds.AccessionNumber = ""
    if meta.get("encounter"):
        ds.AdmissionID = _text(meta.get("encounter"), 64)
        if meta.get("issuer"):
            issuer = Dataset()
            issuer.LocalNamespaceEntityID = _text(meta.get("issuer"), 64)
            ds.IssuerOfAdmissionIDSequence = [issuer]
    ds.TimezoneOffsetFromUTC = _offset(frame.when)


def _equipment(ds: Dataset, capture: FiledCapture, site: DicomSite) -> None:
    meta = capture.metadata
    ds.Manufacturer = site.manufacturer[:64]
    if site.institution:
        ds.InstitutionName = site.institution[:64]
    if meta.get("station_name"):
        ds.StationName = _text(meta.get("station_name"), 16)
    ds.ManufacturerModelName = site.model[:64]
    ds.DeviceSerialNumber = _text(meta.get("station_id"), 64)
    ds.SoftwareVersions = software_version()[:64]


def _operator(ds: Dataset, capture: FiledCapture, site: DicomSite) -> None:
    operator = capture.metadata.get("operator")
    if not operator:
        return
    ds.OperatorsName = _text(operator, 64)
    person = Dataset()
    person.PersonIdentificationCodeSequence = [
        _code(Code(_text(operator, 64), LOCAL_SCHEME, _text(operator, 64)))]
    person.InstitutionName = site.institution[:64] or "unknown"
    ds.OperatorIdentificationSequence = [person]


def _private(ds: Dataset, capture: FiledCapture) -> None:
    """Consent and capture facts in the documented private block (docs/forwarding.md)."""
    meta = capture.metadata
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", _text(meta.get("consent") or "unknown", 64))
    block.add_new(0x02, "CS", _yes(meta.get("emergency_override")))
    block.add_new(0x03, "CS", _yes(meta.get("clock_synced")))
    block.add_new(0x04, "LO", _text(capture.capture_id, 64))
    if meta.get("provenance"):
        block.add_new(0x05, "LO", _text(meta.get("provenance"), 64))
    if capture.kind == "document" and meta.get("operator"):
        # The Encapsulated PDF IOD has no operator attribute.
        block.add_new(0x06, "LO", _text(meta.get("operator"), 64))


def _sop_common(ds: Dataset, sop_class: UID, sop_instance: str, frame: _Frame) -> None:
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.InstanceCreationDate = _da(frame.when)
    ds.InstanceCreationTime = _tm(frame.when)


def _anatomy(ds: Dataset, capture: FiledCapture) -> None:
    meta = capture.metadata
    site = BODY_SITES.get(str(meta.get("body_site") or ""))
    side = LATERALITY.get(str(meta.get("laterality") or ""))
    if site is not None:
        region = _code(site[0])
        if side is not None:
            region.AnatomicRegionModifierSequence = [_code(side[0])]
        ds.AnatomicRegionSequence = [region]
        ds.BodyPartExamined = site[1]
    elif meta.get("body_site"):
        ds.ImageComments = _text(f"body site: {meta.get('body_site')}", 10240)
    if side is not None:
        ds.ImageLaterality = side[1]
    else:
        ds.Laterality = ""  # Type 2C (paired structure, no Image Laterality): unknown


def _new_instance(capture: FiledCapture, frame: _Frame, modality: str) -> Dataset:
    """Patient, study and series of a photo or document in the session's series."""
    ds = Dataset()
    _patient_and_study(ds, capture, frame)
    ds.Modality = modality
    ds.SeriesInstanceUID = frame.series
    ds.SeriesNumber = PHOTO_SERIES_NUMBER
    return ds


def _instance_number(capture: FiledCapture) -> int:
    """The station's sequence number within the session (1 when it sent none)."""
    sequence = capture.metadata.get("sequence")
    return sequence if isinstance(sequence, int) and sequence > 0 else 1


# -- the photo ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _JpegFacts:
    rows: int
    columns: int
    samples: int
    photometric: str


def jpeg_facts(jpeg: bytes) -> _JpegFacts:
    """Size and colour model of a baseline JPEG; anything else is refused (it would need
    re-encoding, and the station's bytes are sent unchanged)."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG":
                raise DicomBuildError("the filed photo is not a JPEG")
            if image.info.get("progressive") or image.info.get("progression"):
                raise DicomBuildError("progressive JPEG has no DICOM baseline transfer syntax")
            if image.bits != 8:
                raise DicomBuildError("only 8-bit JPEG is JPEG Baseline")
            mode, (columns, rows) = image.mode, image.size
            sampling = JpegImagePlugin.get_sampling(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DicomBuildError(f"the filed photo cannot be read as JPEG: {exc}") from None
    if mode == "L":
        return _JpegFacts(rows, columns, 1, "MONOCHROME2")
    if mode != "RGB":
        raise DicomBuildError(f"JPEG colour mode {mode} is not supported")
    return _JpegFacts(rows, columns, 3, "YBR_FULL" if sampling == 0 else "YBR_FULL_422")


def photo_instance(capture: FiledCapture, site: DicomSite, *, jpeg: bytes | None = None,
                   pixels: bool = True) -> Dataset:
    """The VL Photographic Image of the capture's current version (``pixels=False``: without
    Pixel Data, for :func:`to_chunks` to append the JPEG uncopied)."""
    jpeg = capture.payload if jpeg is None else jpeg
    facts = jpeg_facts(jpeg)
    frame = _frame(capture)
    ds = _new_instance(capture, frame, "XC")
    ds.SeriesDate = _da(frame.when)
    ds.SeriesTime = _tm(frame.when)
    _operator(ds, capture, site)
    _equipment(ds, capture, site)
    ds.AcquisitionDateTime = frame.when.strftime("%Y%m%d%H%M%S.%f") + _offset(frame.when)
    ds.AcquisitionDate = _da(frame.when)
    ds.AcquisitionTime = _tm(frame.when)
    ds.ContentDate = _da(frame.when)
    ds.ContentTime = _tm(frame.when)
    ds.InstanceNumber = _instance_number(capture)
    ds.PatientOrientation = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if capture.version is None else [
        "DERIVED", "PRIMARY"]
    if capture.version is not None:
        ds.DerivationDescription = "metadata corrected by amendment; pixels unchanged"
        source = Dataset()
        source.ReferencedSOPClassUID = VL_PHOTOGRAPHIC
        source.ReferencedSOPInstanceUID = instance_uid(capture.capture_id, None)
        ds.SourceImageSequence = [source]
    _anatomy(ds, capture)
    ds.SamplesPerPixel = facts.samples
    ds.PhotometricInterpretation = facts.photometric
    if facts.samples == 3:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = facts.rows, facts.columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.LossyImageCompression = "01"
    ratio = facts.rows * facts.columns * facts.samples / max(1, len(jpeg))
    ds.LossyImageCompressionRatio = f"{ratio:.4g}"[:16]
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "YES"
    ds.AcquisitionContextSequence = []
    _private(ds, capture)
    _sop_common(ds, VL_PHOTOGRAPHIC, instance_uid(capture.capture_id, capture.version), frame)
    if pixels:
        ds.PixelData = encapsulate([jpeg], has_bot=False)
        ds["PixelData"].VR = "OB"
    return ds


# -- the document ---------------------------------------------------------------------------------

def document_instance(capture: FiledCapture, site: DicomSite) -> Dataset:
    """The Encapsulated PDF of a scanned document's current version."""
    pdf = capture.payload
    if not pdf.startswith(b"%PDF-"):
        raise DicomBuildError("the filed document is not a PDF")
    frame = _frame(capture)
    ds = _new_instance(capture, frame, "DOC")
    _equipment(ds, capture, site)
    ds.ConversionType = "SD"
    ds.InstanceNumber = _instance_number(capture)
    ds.ContentDate = _da(frame.when)
    ds.ContentTime = _tm(frame.when)
    ds.AcquisitionDateTime = frame.when.strftime("%Y%m%d%H%M%S.%f") + _offset(frame.when)
    ds.BurnedInAnnotation = "YES"
    ds.RecognizableVisualFeatures = "YES"
    title, code = document_title(capture.metadata.get("document_type"))
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = [] if code is None else [_code(code)]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    _private(ds, capture)
    _sop_common(ds, ENCAPSULATED_PDF, instance_uid(capture.capture_id, capture.version), frame)
    return ds


def current_instance(capture: FiledCapture, site: DicomSite) -> Dataset:
    """The photo or document instance of the capture's current version."""
    if capture.kind == "document":
        return document_instance(capture, site)
    return photo_instance(capture, site)


def current_instance_chunks(capture: FiledCapture, site: DicomSite) -> list[bytes]:
    """:func:`current_instance` as Part 10 chunks, the JPEG among them as filed (not copied
    into a dataset and out again: a 4 MB photo costs no extra copies on the way out)."""
    if capture.kind == "document":
        return [to_bytes(document_instance(capture, site))]
    jpeg = capture.payload
    return to_chunks(photo_instance(capture, site, jpeg=jpeg, pixels=False), frame=jpeg)


def location_of(capture: FiledCapture) -> tuple[str, str, str]:
    """Study, series and SOP Instance UID of the capture's current version."""
    frame = _frame(capture)
    return frame.study, frame.series, instance_uid(capture.capture_id, capture.version)


def instance_uid_of(capture: FiledCapture) -> str:
    return instance_uid(capture.capture_id, capture.version)


# -- rejection notes ------------------------------------------------------------------------------

def _sop_class(capture: FiledCapture) -> UID:
    return ENCAPSULATED_PDF if capture.kind == "document" else VL_PHOTOGRAPHIC


def rejection_note(capture: FiledCapture, site: DicomSite, *, note_id: str,
                   rejected_versions: Iterable[str | None], title: Code) -> Dataset:
    """An IOCM rejection note (KOS, TID 2010) rejecting the given versions of a capture."""
    frame = _frame(capture)
    sop_class = _sop_class(capture)
    refs = []
    for version in rejected_versions:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = instance_uid(capture.capture_id, version)
        refs.append(ref)
    if not refs:
        raise DicomBuildError("a rejection note must reject at least one instance")
    ds = Dataset()
    _patient_and_study(ds, capture, frame)
    ds.Modality = "KO"
    ds.SeriesInstanceUID = rejection_series_uid(frame.study)
    ds.SeriesNumber = REJECTION_SERIES_NUMBER
    ds.ReferencedPerformedProcedureStepSequence = []
    _equipment(ds, capture, site)
    ds.InstanceNumber = 1 + len(capture.applied)
    ds.ContentDate = _da(frame.when)
    ds.ContentTime = _tm(frame.when)
    series = Dataset()
    series.SeriesInstanceUID = frame.series
    series.ReferencedSOPSequence = refs
    study = Dataset()
    study.StudyInstanceUID = frame.study
    study.ReferencedSeriesSequence = [series]
    ds.CurrentRequestedProcedureEvidenceSequence = [study]
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [_code(title)]
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = [template]
    items = []
    for ref in refs:
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "COMPOSITE" if capture.kind == "document" else "IMAGE"
        item.ReferencedSOPSequence = [ref]
        items.append(item)
    ds.ContentSequence = items
    _sop_common(ds, KeyObjectSelectionDocumentStorage,
                rejection_uid(capture.capture_id, note_id), frame)
    return ds


def retraction_note(capture: FiledCapture, site: DicomSite) -> Dataset:
    """The rejection note of a retracted capture: every version sent is rejected."""
    retraction = capture.retraction
    if retraction is None:
        raise DicomBuildError("the capture is not retracted")
    return rejection_note(capture, site, note_id=retraction.amendment_id,
                          rejected_versions=capture.versions,
                          title=rejection_title(retraction.reason))


def correction_note(capture: FiledCapture, site: DicomSite) -> Dataset:
    """The rejection note an amendment sends with its corrected instance: the version it
    replaces is rejected for quality reasons (IHE IOCM "correction")."""
    versions = capture.versions
    if len(versions) < 2:
        raise DicomBuildError("the capture has no corrected version")
    return rejection_note(capture, site, note_id=str(versions[-1]),
                          rejected_versions=[versions[-2]], title=rejection_title(None))


# -- encoding -------------------------------------------------------------------------------------

def _encapsulated(frame: bytes) -> list[bytes]:
    """Pixel Data (7FE0,0010) holding one JPEG frame (PS3.5 A.4): OB of undefined length, an
    empty Basic Offset Table item, one fragment (padded to even length), the delimiter."""
    pad = b"\0" if len(frame) % 2 else b""
    head = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF)
    items = struct.pack("<HHIHHI", 0xFFFE, 0xE000, 0, 0xFFFE, 0xE000, len(frame) + len(pad))
    return [head + items, frame, pad + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)]


def to_chunks(ds: Dataset, frame: bytes | None = None) -> list[bytes]:
    """A Part 10 file as chunks; ``frame`` (for a dataset built without Pixel Data, which is
    always the last element) is appended as its one encapsulated fragment."""
    if frame is not None and any(tag > 0x7FE00010 for tag in ds.keys()):
        raise DicomBuildError("Pixel Data must be the last element")
    return [to_bytes(ds, jpeg=frame is not None), *(_encapsulated(frame) if frame else ())]


def to_bytes(ds: Dataset, *, jpeg: bool = False) -> bytes:
    """A DICOM Part 10 file (preamble, file meta, dataset)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    jpeg = jpeg or "PixelData" in ds
    meta.TransferSyntaxUID = JPEGBaseline8Bit if jpeg else ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    meta.ImplementationVersionName = f"CAPSTN_{software_version()}"[:16]
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


__all__ = [
    "ENCAPSULATED_PDF", "VL_PHOTOGRAPHIC", "DicomBuildError",
    "DicomSite", "correction_note", "current_instance", "current_instance_chunks",
    "document_instance", "photo_instance",
    "rejection_note", "retraction_note", "to_bytes", "to_chunks",
]
