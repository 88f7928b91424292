"""The coded vocabulary the forwarded objects use: SNOMED CT body sites and laterality, and
the DCM codes of IOCM rejection notes, and the LOINC titles of scanned documents.

A body site the station offers but this table does not know is still forwarded, as text only
(DICOM ``ImageComments``, FHIR ``bodySite.text``) and without a code: a wrong code is worse
than none.
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    """One coded concept: value, coding scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str


#: station body site -> (SNOMED CT code, DICOM BodyPartExamined defined term).
BODY_SITES: dict[str, tuple[Code, str]] = {
    "head": (Code("69536005", "SCT", "Head"), "HEAD"),
    "face": (Code("89545001", "SCT", "Face"), "FACE"),
    "neck": (Code("45048000", "SCT", "Neck"), "NECK"),
    "chest": (Code("51185008", "SCT", "Thorax"), "CHEST"),
    "abdomen": (Code("818983003", "SCT", "Abdomen"), "ABDOMEN"),
    "back": (Code("77568009", "SCT", "Back"), "BACK"),
    "sacrum": (Code("54735007", "SCT", "Sacrum"), "SSPINE"),
    "arm": (Code("53120007", "SCT", "Upper limb"), "UPRLIMB"),
    "hand": (Code("85562004", "SCT", "Hand"), "HAND"),
    "leg": (Code("61685007", "SCT", "Lower limb"), "LOWRLIMB"),
    "knee": (Code("72696002", "SCT", "Knee"), "KNEE"),
    "foot": (Code("56459004", "SCT", "Foot"), "FOOT"),
    "heel": (Code("76853004", "SCT", "Heel"), "HEEL"),
    "perineum": (Code("38864007", "SCT", "Perineum"), "PERINEUM"),
}

#: station laterality -> (SNOMED CT modifier, DICOM ImageLaterality).
LATERALITY: dict[str, tuple[Code, str]] = {
    "left": (Code("7771000", "SCT", "Left"), "L"),
    "right": (Code("24028007", "SCT", "Right"), "R"),
    "bilateral": (Code("51440002", "SCT", "Right and left"), "B"),
    "midline": (Code("260528009", "SCT", "Median"), "U"),
}

#: IOCM rejection note titles (PS3.16 CID 7011), by the station's discard reason.
REJECTED_QUALITY = Code("113001", "DCM", "Rejected for Quality Reasons")
REJECTED_PATIENT_SAFETY = Code("113037", "DCM", "Rejected for Patient Safety Reasons")
INCORRECT_WORKLIST_ENTRY = Code("113038", "DCM", "Incorrect Modality Worklist Entry")
REJECTION_TITLES: dict[str, Code] = {
    "wrong_patient": INCORRECT_WORKLIST_ENTRY,
    "poor_quality": REJECTED_QUALITY,
    "duplicate": REJECTED_QUALITY,
    "consent_withdrawn": REJECTED_PATIENT_SAFETY,
}
#: Key Object Description (TID 2010), the free-text row of a rejection note.
KEY_OBJECT_DESCRIPTION = Code("113012", "DCM", "Key Object Description")


def rejection_title(reason: str | None) -> Code:
    """The rejection note title for a discard reason (unknown reasons: quality)."""
    return REJECTION_TITLES.get(reason or "", REJECTED_QUALITY)


#: A scanned document's type (the station's document card) -> its title, and a LOINC code for
#: the types LOINC names (a sketch or "other" goes as text only).
DOCUMENT_TITLES: dict[str, tuple[str, Code | None]] = {
    "consent-form": ("Consent form", Code("59284-0", "LN", "Patient Consent")),
    "referral": ("Referral", Code("57133-1", "LN", "Referral note")),
    "sketch": ("Sketch", None),
    "other": ("Scanned document", None),
}


def document_title(document_type: object) -> tuple[str, Code | None]:
    """(title, code or None) of a document type; an unknown type is a scanned document."""
    return DOCUMENT_TITLES.get(str(document_type), DOCUMENT_TITLES["other"])
