"""Shredding: a sealed file goes, its row keeps the delivery facts.

On flash storage overwriting is no guarantee, so shredding is deletion: what makes a leftover
block unreadable is that no key for it exists anywhere on the station. The file goes first,
then the row is updated (recovery completes a shred interrupted between the two).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.durable import remove_durably

from .catalog import Catalog, mark_shredded
from .context import VaultContext


def shred_file(catalog: Catalog, path: Path, item_id: str, at: float) -> None:
    """Durably delete ``path``, then mark ``item_id`` shredded (and forget its pseudonym)."""
    remove_durably(path)
    with catalog.transaction() as db:
        mark_shredded(db, item_id, at)


def shred(ctx: VaultContext, item_id: str, file: str, *, audit: bool = True) -> None:
    shred_file(ctx.catalog, ctx.path(file), item_id, ctx.clock())
    if audit:
        ctx.audit_quietly("item.shredded", item_id=item_id)


def is_discarded_capture(ctx: VaultContext, item: dict[str, Any]) -> bool:
    """True for the outbox item of a capture (or document) staff discarded."""
    return item["kind"] in ("capture", "document") and ctx.catalog.is_discarded(item["item_id"])


def shred_due(ctx: VaultContext, now: float | None = None) -> int:
    """Delete sealed files delivered longer than the review window ago; returns how many.

    The row keeps the delivery facts (id, kind, size, hash, receipt, times).
    """
    now = ctx.clock() if now is None else now
    due = ctx.catalog.delivered_before(now - ctx.policy.review_window_seconds)
    for item in due:
        with ctx.mutex:
            shred(ctx, item["item_id"], item["file"], audit=item["kind"] != "audit")
    return len(due)
