"""Deterministic DICOM UIDs: the same capture always gives the same Study, Series and SOP
Instance UIDs, so sending it again (after a crash, a restart, an outage) is the *same*
instance and the PACS keeps one copy.

UIDs are ``2.25.<integer>`` (PS3.5 B.2: a UUID as a decimal integer), the integer being the
first 128 bits of SHA-256 over a label and the ids, with the UUID version/variant bits set
(RFC 9562 version 8, "custom"). Only ids the station or the practice made go in, never a
name; the hash makes the UID say nothing about the patient.
"""

from __future__ import annotations

import hashlib

_LABEL = "capture-station dicom uid v1"


def derived_uid(kind: str, *parts: str | None) -> str:
    """A ``2.25.`` UID for ``kind`` (study, series, instance, ...) and the given ids."""
    text = "\x1f".join([_LABEL, kind, *("" if p is None else p for p in parts)])
    raw = bytearray(hashlib.sha256(text.encode("utf-8")).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
    return f"2.25.{int.from_bytes(raw, 'big')}"


def study_uid(issuer: str | None, patient_id: str | None, visit: str) -> str:
    """One study per visit: the encounter (admission) when known, else the capture day."""
    return derived_uid("study", issuer, patient_id, visit)


def series_uid(station_id: str, session: str, modality: str = "XC") -> str:
    """One series per station session and modality (a series holds one modality: a
    session's photos and its scanned documents are two series of the visit's study)."""
    return derived_uid("series", station_id, session, modality)


def instance_uid(capture_id: str, version: str | None = None) -> str:
    """The capture's instance; a corrected version (``version`` = amendment id) is another."""
    return derived_uid("instance", capture_id, version)


def rejection_uid(capture_id: str, retraction_id: str) -> str:
    """The rejection note of one retraction (or the one an amendment's correction needs)."""
    return derived_uid("rejection", capture_id, retraction_id)


def rejection_series_uid(study: str) -> str:
    """Rejection notes of a study live in one series of their own (modality KO)."""
    return derived_uid("rejection-series", study)
