"""Start-up recovery: bring files and catalog back into agreement after a crash or power cut.

Writes happen in a fixed order (sealed file durable first, then the catalog row; for a shred,
file gone first, then the row), so every interruption leaves one of a few known leftovers:

* temp files (``.<name>.<pid>.<rand>.tmp``): an unfinished write, deleted;
* a complete sealed file without a row: the capture was sealed but the row never committed
  (its ``capture.stored`` audit line, written alongside the commit, may already be there).
  It is *adopted* (queued for delivery, not reviewable) when its header is ours and its size is
  exact, because a clinic must lose no photo. An orphan audit batch is deleted instead: its
  lines are still in the log and will be exported again;
* a file that is not a valid sealed file of this station: moved to ``captures/damaged/``;
* leases: every ``sending`` item goes back to ``queued`` (no upload survives a restart);
* a row whose file is gone: after delivery it was being shredded (marked shredded);
  before delivery it is marked ``lost`` and audited as an error;
* a file for an item already shredded or discarded: deleted.

Each step is idempotent, so recovery itself may be interrupted and simply runs again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sync.durable import fsync_dir, is_temp_name, move_durably, remove_durably
from sync.envelope import SUFFIX, EnvelopeError, read_header

from .catalog import (
    Catalog,
    Row,
    discard_queued_of_discarded_captures,
    forget_file,
    insert_capture,
    insert_item,
    mark_lost,
    mark_shredded,
    release_all_leases,
)
from .sealing import file_sha256
from .shredding import shred_file


@dataclass
class RecoveryReport:
    temp_removed: int = 0
    leases_released: int = 0
    adopted: int = 0
    damaged: int = 0
    lost: int = 0
    leftovers_removed: int = 0
    marked_shredded: int = 0

    def nonzero(self) -> dict[str, int]:
        return {f"recovered_{k}": v for k, v in asdict(self).items() if v}


def _canonical_id(stem: str) -> bool:
    try:
        return str(uuid.UUID(stem)) == stem
    except ValueError:
        return False


def _quarantine(path: Path) -> None:
    damaged = path.parent / "damaged"
    damaged.mkdir(mode=0o700, exist_ok=True)
    move_durably(path, damaged / path.name)


def recover(catalog: Catalog, captures: Path, station_id: str, audit: Callable[..., None],
            clock: Callable[[], float]) -> RecoveryReport:
    """Run every step; ``audit(event, **fields)`` records what was found."""
    report = RecoveryReport()
    now = clock()
    captures.mkdir(mode=0o700, parents=True, exist_ok=True)
    _remove_temp_files(captures, report)
    with catalog.transaction() as db:
        report.leases_released = release_all_leases(db)
        discard_queued_of_discarded_captures(db)
    rows = catalog.files()
    on_disk = _check_files(catalog, captures, rows, station_id, audit, now, report)
    _settle_missing_files(catalog, captures, rows, on_disk, audit, now, report)
    # Discards interrupted between the catalog update and the file removal.
    for row in catalog.discard_leftovers():
        shred_file(catalog, captures / row["file"], row["item_id"], now)
        report.leftovers_removed += 1
    return report


def _remove_temp_files(captures: Path, report: RecoveryReport) -> None:
    for entry in os.scandir(captures):
        if entry.is_file(follow_symlinks=False) and is_temp_name(entry.name):
            os.unlink(entry.path)
            report.temp_removed += 1
    if report.temp_removed:
        fsync_dir(captures)


def _check_files(catalog: Catalog, captures: Path, rows: dict[str, Row], station_id: str,
                 audit: Callable[..., None], now: float, report: RecoveryReport) -> set[str]:
    """Every sealed file against its row; returns the ids whose file is present and whole."""
    on_disk: set[str] = set()
    for entry in sorted(os.scandir(captures), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False) or not entry.name.endswith(SUFFIX):
            continue
        path = Path(entry.path)
        stem = entry.name[: -len(SUFFIX)]
        row = rows.get(stem)
        if row is None:
            _adopt_or_quarantine(catalog, path, stem, station_id, audit, now, report)
            continue
        if row["file"] is None:
            remove_durably(path)
            report.leftovers_removed += 1
            continue
        if entry.stat().st_size != row["size"]:
            _quarantine(path)
            with catalog.transaction() as db:
                mark_lost(db, stem)
            audit("error.recovery_damaged_file", item_id=stem)
            report.damaged += 1
            continue
        on_disk.add(stem)
    return on_disk


def _settle_missing_files(catalog: Catalog, captures: Path, rows: dict[str, Row],
                          on_disk: set[str], audit: Callable[..., None], now: float,
                          report: RecoveryReport) -> None:
    """A row whose file is gone: an interrupted shred (delivered, discarded) or a loss."""
    for item_id, row in rows.items():
        if row["file"] is None or item_id in on_disk or (captures / row["file"]).exists():
            continue
        with catalog.transaction() as db:
            if row["state"] == "delivered":
                mark_shredded(db, item_id, now)
                report.marked_shredded += 1
            elif row["state"] == "discarded":
                forget_file(db, item_id, now)
            else:
                mark_lost(db, item_id)
                report.lost += 1
        if row["state"] not in ("delivered", "discarded"):
            audit("error.recovery_file_missing", item_id=item_id, was=row["state"])


def _adopt_or_quarantine(catalog: Catalog, path: Path, stem: str, station_id: str,
                         audit: Callable[..., None], now: float,
                         report: RecoveryReport) -> None:
    try:
        header = read_header(path)
        size = path.stat().st_size
        valid = (_canonical_id(stem) and header.item_id == stem
                 and header.station_id == station_id and header.file_size == size)
    except (EnvelopeError, OSError):
        valid = False
    if not valid:
        _quarantine(path)
        audit("error.recovery_damaged_file", file=path.name)
        report.damaged += 1
        return
    if header.kind == "audit":
        remove_durably(path)
        report.leftovers_removed += 1
        return
    sha256 = file_sha256(path)
    with catalog.transaction() as db:
        insert_item(db, item_id=stem, kind=header.kind, capture_id=header.capture_id,
                    file=path.name, size=size, sha256=sha256, created_at=now)
        if header.kind in ("capture", "document"):
            insert_capture(db, capture_id=stem, created_at=now)
    audit("recovery.adopted", item_id=stem, kind=header.kind)
    report.adopted += 1
