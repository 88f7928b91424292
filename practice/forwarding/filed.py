"""What filing left on disk, read back as one capture: payload, tags, amendments applied.

Filing (:mod:`practice.filing`) keeps a capture as ``<stem>.jpg`` (a document:
``<stem>.pdf``) with its sidecar ``<stem>.json`` holding the CURRENT tags, and, once amended,
``<stem>.history.json`` holding the original tags and every amendment (retractions too) in the
station's order (their ``at`` time, then id: ids are UUIDv7, ordered by time). A retraction
moves the files to ``DIR/retracted/`` (the payload renamed ``*.retracted``). Forwarding builds
every object from these files when it sends (never from a copy in the queue), so what the PACS
and the EHR get is always what the patient file holds; it finds a capture wherever it is now,
from any path it was ever filed at (:func:`practice.filing.find_item`).

``upto`` stops after a given amendment: the object for "amendment 2" is built from the
original tags and the amendments up to 2, so it is the same whenever it is built, even after
amendment 3 (or a retraction) arrived and rewrote the sidecar.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PracticeError
from ..filing import AMENDABLE_KEYS, FILE_SUFFIX, HISTORY_SUFFIX, RETRACTED_SUFFIX, find_item

_ID_RE = re.compile(r"[0-9A-Za-z-]{8,64}")
#: Sidecar fields that describe the LATEST amendment state, not the version being built.
_AMENDMENT_STATE = ("state", "retraction", "amendments", "amended_at", "history_file")


class FiledError(PracticeError, ValueError):
    """A filed capture cannot be read back (missing or malformed file); never names a patient."""


class FiledMoved(FiledError):
    """The file went away between finding and reading it: a retraction (or amendment) moved
    it at that moment. Transient: the next attempt finds it at its new place."""


@dataclass(frozen=True)
class Amendment:
    """One amendment from the history: changes to apply, or a retraction."""

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
        except FileNotFoundError:
            raise FiledMoved(f"the filed {self.kind} moved while it was read") from None
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


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FiledMoved(f"{path.name} moved while it was read") from None
    except (OSError, ValueError) as exc:
        raise FiledError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(value, dict):
        raise FiledError(f"{path.name} is not a JSON object")
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _amendment(raw: object) -> Amendment:
    if not isinstance(raw, dict) or not isinstance(raw.get("amendment_id"), str):
        raise FiledError("a history entry has no amendment id")
    changes = raw.get("changes") if isinstance(raw.get("changes"), dict) else {}
    return Amendment(
        amendment_id=raw["amendment_id"],
        at=str(raw.get("at") or raw.get("received_at") or ""),
        retract=raw.get("retract") is True,
        changes={k: v for k, v in changes.items() if k in AMENDABLE_KEYS},
        operator=_text(raw.get("operator")),
        reason=_text(raw.get("reason")),
    )


def read_history(history: Path | None) -> tuple[dict[str, Any], list[Amendment]]:
    """(original tags, amendments in the station's order) of a history file; none: ({}, [])."""
    if history is None or not history.exists():
        return {}, []
    raw = _read_json(history)
    original = raw.get("original") if isinstance(raw.get("original"), dict) else {}
    entries = raw.get("amendments") if isinstance(raw.get("amendments"), list) else []
    amendments = [_amendment(entry) for entry in entries]
    return ({k: v for k, v in original.items() if k in AMENDABLE_KEYS},
            sorted(amendments, key=lambda a: (a.at, a.amendment_id)))


#: ``upto`` value that applies no amendment: the capture as it was first sent.
ORIGINAL = ""


def load_filed(data_dir: Path, filed: Path, upto: str | None = None) -> FiledCapture:
    """The capture filed at ``filed`` (any path it was filed at) with its amendments applied:
    all of them, up to and including ``upto``, or none (``upto=ORIGINAL``)."""
    try:
        item = find_item(data_dir, filed)
    except (OSError, ValueError):
        raise FiledError("the capture is not filed where the queue says") from None
    name = item.file.name.removesuffix(RETRACTED_SUFFIX)
    kind = next(k for k, suffix in FILE_SUFFIX.items() if name.endswith(suffix))
    metadata = _read_json(item.sidecar)
    capture_id = metadata.get("capture_id")
    if not isinstance(capture_id, str) or not _ID_RE.fullmatch(capture_id):
        raise FiledError(f"{item.sidecar.name} has no usable capture_id")
    original, amendments = read_history(item.history)
    for key in _AMENDMENT_STATE:
        metadata.pop(key, None)
    metadata.update(original)  # the sidecar holds the tags after ALL amendments
    applied: list[Amendment] = []
    for amendment in amendments if upto != ORIGINAL else ():
        applied.append(amendment)
        metadata.update(amendment.changes)
        if amendment.amendment_id == upto:
            break
    else:
        if upto:
            raise FiledError("the amendment to forward is not in its capture's history")
    return FiledCapture(kind, capture_id, item.file, metadata, applied)


def capture_of(data_dir: Path, filed: Path) -> tuple[Path, str]:
    """(payload where it is now, capture id) of an item filed at ``filed`` (its payload, or
    for an amendment its capture's history file)."""
    try:
        item = find_item(data_dir, filed)
        capture_id = _read_json(item.sidecar).get("capture_id")
    except (OSError, ValueError):
        raise FiledError("no filed capture there") from None
    if not isinstance(capture_id, str) or not _ID_RE.fullmatch(capture_id):
        raise FiledError(f"{item.sidecar.name} has no usable capture_id")
    return item.file, capture_id


def find_capture(data_dir: Path, capture_id: str) -> Path:
    """The payload of the capture ``capture_id``, current or retracted (FiledError if none)."""
    if not _ID_RE.fullmatch(capture_id):
        raise FiledError("not a capture id")
    for area in ("inbox", "retracted"):
        for sidecar in sorted((data_dir / area).glob(f"*/*/*_{capture_id}.json")):
            try:  # the history's name stands for the item's files, whichever kind it is
                history = sidecar.with_name(sidecar.name.removesuffix(".json") + HISTORY_SUFFIX)
                return find_item(data_dir, history).file
            except (OSError, ValueError):
                continue
    raise FiledError(f"no filed capture {capture_id}")
