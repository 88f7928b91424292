"""File an opened capture per patient, apply its amendments, quarantine its retraction.

Layout (``DIR`` is the receiver's data directory, ``<stem>`` is ``<date>_<item id>``)::

    DIR/inbox/<issuer>/<patient>/<stem>.jpg            the photo (a document: <stem>.pdf)
    DIR/inbox/<issuer>/<patient>/<stem>.json           sidecar: the CURRENT tags + receiver facts
    DIR/inbox/<issuer>/<patient>/<stem>.thumb.jpg      the station's preview, kept as thumbnail
    DIR/inbox/<issuer>/<patient>/<stem>.history.json   original tags + every amendment applied
    DIR/inbox/<issuer>/<patient>/<stem>.page-<n>.thumb.jpg  a document's page thumbnails
    DIR/retracted/<issuer>/<patient>/<stem>.jpg.retracted (+ .thumb.jpg.retracted, .json,
                                                       .history.json)  a retracted capture
                                                       (a document: .pdf.retracted and its
                                                       .page-<n>.thumb.jpg.retracted)

An amendment rewrites the sidecar to the original tags with every amendment's changes applied
in order (``at``, then amendment id), and records who changed what, when and from which
station in the history. A retraction does the same, then moves the capture's files out of the
patient's folder into ``DIR/retracted/`` (mode 0700, outside ``inbox/``), the photo renamed
``.jpg.retracted`` so no file browser shows it as a photo; the sidecar there says
``"state": "retracted"`` and why. Applying the same amendment twice changes nothing, and
every step is a durable write or rename, so re-applying after a crash finishes the job
(files are looked for in both places).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.durable import fsync_dir, move_durably, write_durably

from .pagethumbs import page_thumb_name, render_page_thumbs

_SAFE = re.compile(r"[A-Za-z0-9_-]")
MAX_COMPONENT = 64

#: Capture metadata keys copied into the sidecar (anything else is never copied).
SIDECAR_KEYS = (
    "patient_id", "issuer", "encounter", "operator", "consent", "emergency_override",
    "body_site", "laterality", "station_name", "captured_at", "clock_synced", "provenance",
    "session_id", "sequence", "note", "pages", "document_type", "consent_form",
)
#: The tags an amendment may change (docs/envelope.md, ``changes``).
AMENDABLE_KEYS = ("operator", "consent", "emergency_override", "body_site", "laterality",
                  "note")
#: The main file of each kind, the thumbnail, and what a quarantined file's name ends with.
FILE_SUFFIX = {"capture": ".jpg", "document": ".pdf"}
THUMB_SUFFIX = ".thumb.jpg"
HISTORY_SUFFIX = ".history.json"
RETRACTED_SUFFIX = ".retracted"
#: Amendment metadata keys copied into its history entry.
AMENDMENT_KEYS = ("amends", "at", "retract", "changes", "operator", "reason")
#: What the receiver itself writes into sidecars and notes; never taken from metadata.
RECEIVER_FIELDS = frozenset({
    "capture_id", "amendment_id", "station_id", "received_at", "image_file", "image_sha256",
    "sealed_file", "sealed_sha256", "kind", "state", "thumb_file", "history_file",
    "retraction", "amendments", "amended_at", "page_thumbs",
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


def parse_time(value: object) -> dt.datetime | None:
    """A sidecar's ISO 8601 time as an aware datetime (naive means UTC); None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def capture_date(captured_at: object, received_at: str) -> str:
    """``YYYY-MM-DD`` of the capture (UTC), or of receipt when the station's time is unusable."""
    for value in (captured_at, received_at):
        when = parse_time(value)
        if when is not None and 2000 <= when.year <= 2999:
            return when.astimezone(dt.UTC).strftime("%Y-%m-%d")
    return "unknown-date"


def _copy(metadata: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: metadata.get(key) for key in keys if key not in RECEIVER_FIELDS}


def _write_json(path: Path, record: dict[str, Any]) -> None:
    write_durably(path, json.dumps(record, indent=2, sort_keys=True,
                                   ensure_ascii=False).encode(), 0o640)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class FiledItem:
    """Where one capture's (or document's) files are now."""

    file: Path
    sidecar: Path
    thumb: Path | None
    history: Path | None
    state: str


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
    preview: Path | None = None,
    kind: str = "capture",
) -> Path:
    """Move the staged JPEG ``image`` (a durable file on the inbox's file system, hashed as
    it was written) into place, the staged ``preview`` beside it as the thumbnail, and write
    the sidecar durably; return the JPEG's (a document: the PDF's) path. A document's page
    thumbnails are rendered from its PDF here (``page_thumbs`` in the sidecar, in page
    order, None for a page without one); the sidecar is written last.

    Deterministic: filing the same capture again gives the same files, so a crash
    between filing and recording the receipt is repaired by the station's retry.
    ``station_id`` is the authenticated uploader (the envelope's signer).
    """
    issuer = safe_component(metadata.get("issuer"), "unknown-issuer")
    patient = safe_component(metadata.get("patient_id"), "unidentified")
    folder = inbox / issuer / patient
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    stem = f"{capture_date(metadata.get('captured_at'), received_at)}_{capture_id}"
    main = folder / f"{stem}{FILE_SUFFIX[kind]}"
    thumb = folder / f"{stem}{THUMB_SUFFIX}"
    sidecar = _copy(metadata, SIDECAR_KEYS)
    sidecar.update({
        "kind": kind,
        "state": "current",
        "capture_id": capture_id,
        "station_id": station_id,
        "received_at": received_at,
        "image_file": main.name,
        "image_sha256": image_sha256,
        "thumb_file": thumb.name if preview is not None else None,
        "history_file": None,
        "sealed_file": sealed_path,
        "sealed_sha256": sealed_sha256,
    })
    move_durably(image, main)
    if preview is not None:
        move_durably(preview, thumb)
    if kind == "document":
        sidecar["page_thumbs"] = render_page_thumbs(main, folder, stem)
        fsync_dir(folder)
    _write_json(folder / f"{stem}.json", sidecar)
    return main


def _names(stem: str, kind: str, page_thumbs: object = None) -> dict[str, tuple[str, str]]:
    """Each file of an item: (name in the patient folder, name in quarantine). A document's
    page thumbnails are named from the sidecar's ``page_thumbs`` count, never taken from it."""
    main = f"{stem}{FILE_SUFFIX[kind]}"
    thumb = f"{stem}{THUMB_SUFFIX}"
    names = {"file": (main, main + RETRACTED_SUFFIX),
             "thumb": (thumb, thumb + RETRACTED_SUFFIX),
             "history": (f"{stem}{HISTORY_SUFFIX}",) * 2}
    pages = page_thumbs if isinstance(page_thumbs, list) else []
    for number, entry in enumerate(pages, start=1):
        if entry is not None:
            name = page_thumb_name(stem, number)
            names[f"page-{number}"] = (name, name + RETRACTED_SUFFIX)
    names["sidecar"] = (f"{stem}.json",) * 2  # last: its move completes a retraction
    return names


def quarantine_dir(data_dir: Path, folder: Path) -> Path:
    """``DIR/retracted/<issuer>/<patient>`` for a patient folder under ``DIR/inbox``."""
    relative = folder.relative_to(data_dir / "inbox")
    return data_dir / "retracted" / relative


def locate(data_dir: Path, filed: Path) -> tuple[Path, Path, str, str]:
    """(patient folder, quarantine folder, stem, kind) of an item filed at ``filed``.

    ``filed`` may be where the photo was first filed or where it is now.
    """
    name = filed.name.removesuffix(RETRACTED_SUFFIX)
    found = [(k, suffix) for k, suffix in FILE_SUFFIX.items() if name.endswith(suffix)]
    if not found:
        raise ValueError("not a filed capture or document")
    kind, suffix = found[0]
    stem = name[: -len(suffix)]
    parent = filed.parent
    if parent.is_relative_to(data_dir / "retracted"):
        relative = parent.relative_to(data_dir / "retracted")
        return data_dir / "inbox" / relative, parent, stem, kind
    return parent, quarantine_dir(data_dir, parent), stem, kind


def find_item(data_dir: Path, filed: Path) -> FiledItem:
    """Where an item is now, from any path it was filed at: its photo or document (where
    first filed or in quarantine) or its history file (an amendment's ``filed_path``).

    Readers that keep a path (the forward queue) find the item after a retraction moved it.
    """
    if filed.name.endswith(HISTORY_SUFFIX):
        stem = filed.name.removesuffix(HISTORY_SUFFIX)
        candidates = [filed.with_name(stem + suffix) for suffix in FILE_SUFFIX.values()]
    else:
        candidates = [filed]
    for candidate in candidates:
        folder, quarantine, stem, kind = locate(data_dir, candidate)
        names = _names(stem, kind)
        sidecar = _read_json(_find(folder, quarantine, names["sidecar"]))
        if sidecar is not None and _find(folder, quarantine, names["file"]).exists():
            return _where(folder, quarantine, names, sidecar)
    raise FileNotFoundError("no filed capture or document there")


def _current(original: dict[str, Any], amendments: list[dict[str, Any]]) -> dict[str, Any]:
    """The tags now: the original ones with each amendment's changes applied in order."""
    tags = dict(original)
    for amendment in amendments:
        changes = amendment.get("changes") or {}
        tags.update({k: v for k, v in changes.items() if k in AMENDABLE_KEYS})
    return tags


def _order(entry: dict[str, Any]) -> tuple[str, str]:
    at = entry.get("at")
    return (at if isinstance(at, str) else "", entry["amendment_id"])


def apply_amendment(
    data_dir: Path,
    filed: Path,
    amendment_id: str,
    metadata: dict[str, Any],
    *,
    station_id: str,
    received_at: str,
    sealed_sha256: str,
    sealed_path: str,
) -> FiledItem:
    """Apply one amendment (or retraction) to the item filed at ``filed``; where it is now.

    Idempotent: an amendment already in the history is not added again, and the sidecar and
    the retraction move are (re)done either way. The caller has checked that
    ``station_id`` made the capture.
    """
    folder, quarantine, stem, kind = locate(data_dir, filed)
    names = _names(stem, kind)
    sidecar_path = _find(folder, quarantine, names["sidecar"])
    sidecar = _read_json(sidecar_path)
    if sidecar is None:
        raise FileNotFoundError("the capture's sidecar is missing")
    names = _names(stem, kind, sidecar.get("page_thumbs"))
    history_path = _find(folder, quarantine, names["history"])
    stored_history = _read_json(history_path)
    history = _read_json(history_path) or {  # a second copy: compared with the stored one
        "capture_id": sidecar.get("capture_id"),
        "original": {k: sidecar.get(k) for k in AMENDABLE_KEYS},
        "amendments": [],
    }
    entries = [e for e in history["amendments"] if e.get("amendment_id") != amendment_id]
    entry = _copy(metadata, AMENDMENT_KEYS)
    entry.update({"amendment_id": amendment_id, "station_id": station_id,
                  "received_at": received_at, "sealed_file": sealed_path,
                  "sealed_sha256": sealed_sha256})
    known = [e for e in history["amendments"] if e.get("amendment_id") == amendment_id]
    entries.append(known[0] if known else entry)
    entries.sort(key=_order)
    history["amendments"] = entries
    retraction = next((e for e in entries if e.get("retract")), None)
    sidecar.update(_current(history["original"], entries))
    sidecar.update({
        "state": "retracted" if retraction else "current",
        "retraction": None if retraction is None else {
            k: retraction.get(k) for k in ("amendment_id", "at", "operator", "reason",
                                           "station_id", "received_at")},
        "history_file": names["history"][0],
        "amendments": len(entries),
        "amended_at": max((e.get("at") or "" for e in entries), default=None) or None,
    })
    if known and stored_history == history and _read_json(sidecar_path) == sidecar \
            and (retraction is None or sidecar_path.parent == quarantine):
        return _where(folder, quarantine, names, sidecar)
    _write_json(history_path, history)
    _write_json(sidecar_path, sidecar)
    if retraction is not None:
        (data_dir / "retracted").mkdir(mode=0o700, exist_ok=True)
        _quarantine(folder, quarantine, names)
    return _where(folder, quarantine, names, sidecar)


def _find(folder: Path, quarantine: Path, names: tuple[str, str]) -> Path:
    """The file where it is now: quarantined if it got there, else in the patient folder."""
    moved = quarantine / names[1]
    return moved if moved.exists() else folder / names[0]


def _quarantine(folder: Path, quarantine: Path, names: dict[str, tuple[str, str]]) -> None:
    """Move every file of the item out of the patient folder; the sidecar goes last, so
    a sidecar in quarantine means the move is complete."""
    quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
    for part in names:  # the sidecar is the last entry
        source, target = folder / names[part][0], quarantine / names[part][1]
        if source.exists():
            move_durably(source, target)


def _where(folder: Path, quarantine: Path, names: dict[str, tuple[str, str]],
           sidecar: dict[str, Any]) -> FiledItem:
    thumb = _find(folder, quarantine, names["thumb"]) if sidecar.get("thumb_file") else None
    return FiledItem(file=_find(folder, quarantine, names["file"]),
                     sidecar=_find(folder, quarantine, names["sidecar"]),
                     thumb=thumb, history=_find(folder, quarantine, names["history"]),
                     state=str(sidecar.get("state")))
