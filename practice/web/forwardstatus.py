"""Where an item stands with the PACS and the EHR, read where the forwarder writes it.

The forward queue writes ``<stem>.forward.json`` beside each filed item (and moves it with a
retraction): destination -> queued row (the item itself, each amendment) -> state, attempts,
last error, when it was forwarded, when a pending row is next tried. The page shows one line
per destination, summed up over the item's rows: ``failed`` (with the reason) if any row
failed for good, else ``pending`` (with the last error and the next attempt) if any row waits,
else ``forwarded`` (with when the last row went). No file: forwarding is not configured, or
the item was filed before it was; nothing is shown then. The file is a view the queue
rewrites on every change; a broken one shows as unknown rather than failing the page.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..forwarding.queue import STATUS_SUFFIX

#: How bad each state is: the badge of a destination shows its worst row.
_SEVERITY = {"forwarded": 0, "pending": 1, "failed": 2, "unknown": 3}


@dataclass(frozen=True)
class DestinationStatus:
    """One destination's state for one item (all its queued rows taken together)."""

    destination: str
    state: str  # forwarded | pending | failed | unknown
    rows: int
    forwarded_at: str | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    attempts: int = 0


def status_path(sidecar: Path) -> Path:
    """``<stem>.forward.json`` beside the item's sidecar ``<stem>.json``."""
    return sidecar.with_name(sidecar.name.removesuffix(".json") + STATUS_SUFFIX)


def _summary(destination: str, rows: dict[str, Any]) -> DestinationStatus:
    entries = [r for r in rows.values() if isinstance(r, dict)]
    states = [str(r.get("state")) if r.get("state") in _SEVERITY else "unknown"
              for r in entries]
    state = max(states, key=_SEVERITY.__getitem__, default="unknown")
    worst = [r for r, s in zip(entries, states, strict=True) if s == state]
    text = [r.get("last_error") for r in worst if isinstance(r.get("last_error"), str)]
    forwarded = [r["forwarded_at"] for r in entries if isinstance(r.get("forwarded_at"), str)]
    due = [r["next_attempt_at"] for r in worst if isinstance(r.get("next_attempt_at"), str)]
    attempts = [r["attempts"] for r in worst if isinstance(r.get("attempts"), int)]
    return DestinationStatus(
        destination=destination, state=state, rows=len(entries),
        forwarded_at=max(forwarded) if state == "forwarded" and forwarded else None,
        last_error=text[-1] if text and state != "forwarded" else None,
        next_attempt_at=min(due) if state == "pending" and due else None,
        attempts=max(attempts, default=0))


def read_status(sidecar: Path) -> list[DestinationStatus]:
    """Each destination's state for the item whose sidecar is ``sidecar`` ([]: none)."""
    try:
        raw = json.loads(status_path(sidecar).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return [DestinationStatus("forwarding", "unknown", 0)]
    if not isinstance(raw, dict):
        return [DestinationStatus("forwarding", "unknown", 0)]
    return [_summary(str(dest), rows if isinstance(rows, dict) else {})
            for dest, rows in sorted(raw.items())]


def status_of(capture: Any) -> list[DestinationStatus]:
    """The forwarding status of a patient-file record (a template global).

    A page lists each patient folder once per request (a 500-item file then costs one
    directory read plus one small read per item that has a status, not a path check and an
    open per tile)."""
    from flask import g

    from .context import ctx

    folder_rel, _, name = str(capture.sidecar_path).rpartition("/")
    listings: dict[str, tuple[Path, frozenset[str]]] = g.setdefault("forward_listings", {})
    if folder_rel not in listings:
        try:
            folder = ctx().index.resolve(folder_rel)
            listings[folder_rel] = (folder, frozenset(os.listdir(folder)))
        except (ValueError, OSError):
            listings[folder_rel] = (Path(), frozenset())
    folder, names = listings[folder_rel]
    if status_path(Path(name)).name not in names:
        return []
    return read_status(folder / name)
