"""What filing left on disk, read back as one capture: payload, sidecar, amendments applied.

Filing writes ``<stem>.jpg`` (a photo) or ``<stem>.pdf`` (a document) with ``<stem>.json``
beside it, and each amendment or retraction as ``<stem>.amend-<id>.json``. Forwarding builds
every object from these files when it sends (never from a copy in the queue), so what the PACS
and the EHR get is always what the patient file holds.

Amendments apply in the station's order (their ``at`` time, then id: ids are UUIDv7, ordered
by time). ``upto`` stops after a given amendment, so the object for "amendment 2" is the same
whenever it is built, even after amendment 3 arrived.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.envelope import AMENDABLE

_ID_RE = re.compile(r"[0-9A-Za-z-]{8,64}")
PAYLOAD_SUFFIXES = {".jpg": "capture", ".jpeg": "capture", ".pdf": "document"}


class FiledError(ValueError):
    """A filed capture cannot be read back (missing or malformed file); never names a patient."""


@dataclass(frozen=True)
class Amendment:
    """One amendment note: changes to apply, or a retraction."""

    amendment_id: str
    at: str
    retract: bool
    changes: dict[str, Any]
    operator: str | None
    reason: str | None


@dataclass
class FiledCapture:
    """A capture as filed, with the amendments up to ``upto`` applied to ``metadata``."""

    kind: str  # "capture" or "document"
    capture_id: str
    payload_path: Path
    metadata: dict[str, Any]
    applied: list[Amendment] = field(default_factory=list)

    @property
    def payload(self) -> bytes:
        """The JPEG or PDF exactly as the station sealed it."""
        try:
            return self.payload_path.read_bytes()
        except OSError as exc:
            raise FiledError(f"cannot read the filed {self.kind}: {exc.strerror}") from None

    @property
    def retraction(self) -> Amendment | None:
        """The retraction among the applied amendments, if any."""
        return next((a for a in self.applied if a.retract), None)

    @property
    def version(self) -> str | None:
        """Id of the amendment that made the current version (None: as captured)."""
        changed = [a.amendment_id for a in self.applied if not a.retract and a.changes]
        return changed[-1] if changed else None

    @property
    def versions(self) -> list[str | None]:
        """Every version sent so far, oldest first (None is the original)."""
        return [None, *(a.amendment_id for a in self.applied if not a.retract and a.changes)]


def sidecar_path(payload: Path) -> Path:
    return payload.with_suffix(".json")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FiledError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(value, dict):
        raise FiledError(f"{path.name} is not a JSON object")
    return value


def amendments_for(payload: Path) -> list[Amendment]:
    """Every amendment note beside ``payload``, in the station's order."""
    notes = []
    for note in payload.parent.glob(f"{payload.stem}.amend-*.json"):
        raw = _read_json(note)
        changes = raw.get("changes") or {}
        notes.append(Amendment(
            amendment_id=str(raw.get("amendment_id") or note.stem.rsplit(".amend-", 1)[-1]),
            at=str(raw.get("at") or raw.get("received_at") or ""),
            retract=raw.get("retract") is True,
            changes={k: v for k, v in changes.items() if k in AMENDABLE},
            operator=raw.get("operator") if isinstance(raw.get("operator"), str) else None,
            reason=raw.get("reason") if isinstance(raw.get("reason"), str) else None,
        ))
    return sorted(notes, key=lambda a: (a.at, a.amendment_id))


#: ``upto`` value that applies no amendment: the capture as it was first sent.
ORIGINAL = ""


def load_filed(payload: Path, upto: str | None = None) -> FiledCapture:
    """The capture filed at ``payload`` with its amendments applied: all of them, up to and
    including ``upto``, or none (``upto=ORIGINAL``)."""
    kind = PAYLOAD_SUFFIXES.get(payload.suffix.lower())
    if kind is None:
        raise FiledError(f"{payload.name} is neither a photo nor a document")
    metadata = _read_json(sidecar_path(payload))
    capture_id = metadata.get("capture_id")
    if not isinstance(capture_id, str) or not _ID_RE.fullmatch(capture_id):
        raise FiledError(f"{sidecar_path(payload).name} has no usable capture_id")
    applied: list[Amendment] = []
    for amendment in amendments_for(payload) if upto != ORIGINAL else ():
        applied.append(amendment)
        metadata.update(amendment.changes)
        if amendment.amendment_id == upto:
            break
    else:
        if upto:
            raise FiledError("the amendment to forward is not filed beside its capture")
    return FiledCapture(kind, capture_id, payload, metadata, applied)


def payload_for_note(note: Path) -> Path:
    """The payload an amendment note ``<stem>.amend-<id>.json`` belongs to."""
    stem = note.name.split(".amend-", 1)[0]
    for suffix in PAYLOAD_SUFFIXES:
        candidate = note.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    raise FiledError("an amendment's capture is not filed beside it")


def find_capture(data_dir: Path, capture_id: str) -> Path:
    """The payload of the capture ``capture_id`` in ``DIR/inbox`` (FiledError if none)."""
    if not _ID_RE.fullmatch(capture_id):
        raise FiledError("not a capture id")
    for sidecar in sorted((data_dir / "inbox").glob(f"*/*/*_{capture_id}.json")):
        for suffix in PAYLOAD_SUFFIXES:
            payload = sidecar.with_suffix(suffix)
            if payload.exists():
                return payload
    raise FiledError(f"no filed capture {capture_id}")
