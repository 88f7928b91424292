"""File an opened capture per patient: ``inbox/<issuer>/<patient>/<date>_<capture>.jpg`` + JSON.

Issuer and patient ids come from wristband barcodes, so they are untrusted input. A path is
built only from :func:`safe_component` results: anything outside a small safe alphabet
(path separators, dot segments, control characters, non-ASCII) is replaced, and a changed
value gets a short hash of the original appended -- so ``12/34`` and ``12_34`` can never
land in the same patient folder. The raw values are kept in the sidecar, as data.

The sidecar (and an amendment's note) holds two kinds of field: copies of the station's sealed
metadata, taken only from a fixed list (:data:`SIDECAR_KEYS`, :data:`AMENDMENT_KEYS`), and the
receiver's own facts (:data:`RECEIVER_FIELDS`: who sent it, when it arrived, which sealed file
it came from). The two lists never share a name and the receiver's are written last, so no
metadata can set or override a receiver field; the station id is the authenticated
uploader's, never the metadata's (the envelope refuses metadata naming another station, and
any key outside its table, before filing sees it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sync.durable import move_durably, write_durably

_SAFE = re.compile(r"[A-Za-z0-9_-]")
MAX_COMPONENT = 64

#: Capture metadata keys copied into the sidecar (anything else is never copied).
SIDECAR_KEYS = (
    "patient_id", "issuer", "encounter", "operator", "consent", "emergency_override",
    "body_site", "laterality", "station_name", "captured_at", "clock_synced", "provenance",
    "session_id", "sequence", "note",
)
#: Amendment metadata keys copied into its note.
AMENDMENT_KEYS = ("amends", "at", "retract", "changes", "operator", "reason")
#: What the receiver itself writes into sidecars and notes; never taken from metadata.
RECEIVER_FIELDS = frozenset({
    "capture_id", "amendment_id", "station_id", "received_at", "image_file", "image_sha256",
    "sealed_file", "sealed_sha256",
})


def safe_component(raw: object, fallback: str) -> str:
    """One path component from an untrusted value; never empty, ``.``, ``..`` or with ``/``."""
    text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    cleaned = "".join(ch if _SAFE.fullmatch(ch) else "_" for ch in text)[:MAX_COMPONENT]
    if not text:
        return fallback
    if cleaned != text:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = f"{cleaned.strip('_')[:MAX_COMPONENT - 11] or fallback}~{digest}"
    return cleaned


def capture_date(captured_at: object, received_at: str) -> str:
    """``YYYY-MM-DD`` of the capture (UTC), or of receipt when the station's time is unusable."""
    for value in (captured_at, received_at):
        if not isinstance(value, str):
            continue
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC)
        if 2000 <= when.year <= 2999:
            return when.strftime("%Y-%m-%d")
    return "unknown-date"


def _copy(metadata: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: metadata.get(key) for key in keys if key not in RECEIVER_FIELDS}


def _write_json(path: Path, record: dict[str, Any]) -> None:
    write_durably(path, json.dumps(record, indent=2, sort_keys=True,
                                   ensure_ascii=False).encode(), 0o640)


def file_capture(
    inbox: Path,
    capture_id: str,
    metadata: dict[str, Any],
    image: Path,
    *,
    image_sha256: str,
    station_id: str,
    received_at: str,
    sealed_sha256: str,
    sealed_path: str,
) -> Path:
    """Move the staged JPEG ``image`` (a durable file on the inbox's file system, hashed as
    it was written) into place and write its sidecar durably; return the JPEG's path.

    Deterministic: filing the same capture again gives the same two files, so a crash
    between filing and recording the receipt is repaired by the station's retry.
    ``station_id`` is the authenticated uploader (the envelope's signer).
    """
    issuer = safe_component(metadata.get("issuer"), "unknown-issuer")
    patient = safe_component(metadata.get("patient_id"), "unidentified")
    folder = inbox / issuer / patient
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    stem = f"{capture_date(metadata.get('captured_at'), received_at)}_{capture_id}"
    jpg = folder / f"{stem}.jpg"
    sidecar = _copy(metadata, SIDECAR_KEYS)
    sidecar.update({
        "capture_id": capture_id,
        "station_id": station_id,
        "received_at": received_at,
        "image_file": jpg.name,
        "image_sha256": image_sha256,
        "sealed_file": sealed_path,
        "sealed_sha256": sealed_sha256,
    })
    move_durably(image, jpg)
    _write_json(folder / f"{stem}.json", sidecar)
    return jpg


def file_amendment(
    capture_jpg: Path,
    amendment_id: str,
    metadata: dict[str, Any],
    *,
    station_id: str,
    received_at: str,
    sealed_sha256: str,
    sealed_path: str,
) -> Path:
    """Write an amendment's (or retraction's) note beside the capture it amends; its path.

    ``<capture stem>.amend-<amendment id>.json``: the amendment's own fields, then the
    receiver's. The caller has checked that ``station_id`` made the capture.
    """
    note = capture_jpg.with_name(f"{capture_jpg.stem}.amend-{amendment_id}.json")
    record = _copy(metadata, AMENDMENT_KEYS)
    record.update({
        "amendment_id": amendment_id,
        "station_id": station_id,
        "received_at": received_at,
        "sealed_file": sealed_path,
        "sealed_sha256": sealed_sha256,
    })
    _write_json(note, record)
    return note
