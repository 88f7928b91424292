"""File an opened capture per patient: ``inbox/<issuer>/<patient>/<date>_<capture>.jpg`` + JSON.

Issuer and patient ids come from wristband barcodes, so they are untrusted input. A path is
built only from :func:`safe_component` results: anything outside a small safe alphabet
(path separators, dot segments, control characters, non-ASCII) is replaced, and a changed
value gets a short hash of the original appended -- so ``12/34`` and ``12_34`` can never
land in the same patient folder. The raw values are kept in the sidecar, as data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sync.durable import write_durably

_SAFE = re.compile(r"[A-Za-z0-9_-]")
MAX_COMPONENT = 64

#: Metadata keys copied into the sidecar (everything else in the payload is ignored).
SIDECAR_KEYS = (
    "patient_id", "issuer", "encounter", "operator", "consent", "body_site", "laterality",
    "station_id", "station_name", "captured_at", "clock_synced", "provenance",
)


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


def file_capture(
    inbox: Path,
    capture_id: str,
    metadata: dict[str, Any],
    image: bytes,
    *,
    received_at: str,
    sealed_sha256: str,
    sealed_path: str,
) -> Path:
    """Write the JPEG and its sidecar durably; return the JPEG's path.

    Deterministic: filing the same capture again writes the same two files, so a crash
    between filing and recording the receipt is repaired by the station's retry.
    """
    issuer = safe_component(metadata.get("issuer"), "unknown-issuer")
    patient = safe_component(metadata.get("patient_id"), "unidentified")
    folder = inbox / issuer / patient
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    stem = f"{capture_date(metadata.get('captured_at'), received_at)}_{capture_id}"
    jpg = folder / f"{stem}.jpg"
    sidecar = {key: metadata.get(key) for key in SIDECAR_KEYS}
    sidecar.update({
        "capture_id": capture_id,
        "received_at": received_at,
        "image_file": jpg.name,
        "image_sha256": hashlib.sha256(image).hexdigest(),
        "sealed_file": sealed_path,
        "sealed_sha256": sealed_sha256,
    })
    write_durably(jpg, image, 0o640)
    write_durably(folder / f"{stem}.json",
                  json.dumps(sidecar, indent=2, sort_keys=True, ensure_ascii=False).encode(), 0o640)
    return jpg
