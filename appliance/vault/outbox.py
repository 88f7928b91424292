"""The vault as the uploader's :class:`sync.outbox.Outbox`: leases, receipts, refusals, retries.

Delivery is at least once: an item is leased (``sending``) for a while, settled by a verified
receipt (``delivered``) or a final refusal (``rejected``), or released for a later attempt.
A capture discarded while its upload ran is shredded as soon as the upload lets go of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from sync.outbox import OutboxItem

from .catalog import (
    UNHASHED,
    discard_item,
    lease_oldest_due,
    record_sha256,
    reschedule_retries,
    settle_delivered,
    settle_rejected,
    settle_requeued,
)
from .context import VaultContext
from .errors import UnknownCaptureError
from .sealing import file_sha256
from .shredding import is_discarded_capture, shred


class VaultOutbox:
    """Implements :class:`sync.outbox.Outbox` over the vault's catalog and sealed files."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def lease_next(self, lease_seconds: float | None = None) -> OutboxItem | None:
        """Oldest due item -> ``sending`` with a lease. Amendments wait for their capture."""
        ctx = self.ctx
        now = ctx.clock()
        lease = ctx.policy.lease_seconds if lease_seconds is None else lease_seconds
        with ctx.catalog.transaction() as db:
            row = lease_oldest_due(db, now, now + lease)
        if row is None:
            return None
        path = ctx.path(row["file"])
        sha256 = row["sha256"]
        if sha256 == UNHASHED:  # first lease: the digest the upload is signed with
            sha256 = self._hash_file(row["item_id"], path)
        return OutboxItem(item_id=row["item_id"], kind=row["kind"], path=path,
                          size=row["size"], sha256=sha256, attempts=row["attempts"] + 1)

    def _hash_file(self, item_id: str, path: Path) -> str:
        """SHA-256 of a leased item's sealed file, kept in the catalog for later attempts.

        Computed outside the catalog lock (the item is leased, so nothing else touches it).
        The sealed file is authenticated end to end by its AEAD tags, so a digest taken now
        proves to the receipt exactly what one taken while writing would have.
        """
        sha256 = file_sha256(path)
        with self.ctx.catalog.transaction() as db:
            record_sha256(db, item_id, sha256)
        return sha256

    def open_sealed(self, item: OutboxItem) -> BinaryIO:
        return open(item.path, "rb")

    def _item(self, item_id: str) -> dict[str, Any]:
        item = self.ctx.catalog.item(item_id)
        if item is None:
            raise UnknownCaptureError(item_id)
        return item

    def _settle(self, item_id: str, update: Callable[..., None], *args: Any) -> None:
        """Run ``update(db, item_id, *args)``; then shred the file of a discarded capture."""
        ctx = self.ctx
        with ctx.mutex:
            self._item(item_id)
            with ctx.catalog.transaction() as db:
                update(db, item_id, *args)
            item = ctx.catalog.item(item_id)
            if item is not None and item["file"] is not None and is_discarded_capture(ctx, item):
                shred(ctx, item_id, item["file"], audit=False)

    def mark_delivered(self, item_id: str, receipt: bytes) -> None:
        """A verified receipt arrived. Repeats are harmless (the first delivery time stays)."""
        item = self._item(item_id)
        if item["state"] == "delivered":
            return
        self._settle(item_id, settle_delivered, self.ctx.clock(), bytes(receipt))
        if item["kind"] != "audit":
            self.ctx.audit_quietly("item.delivered", item_id=item_id, kind=item["kind"])

    def mark_rejected(self, item_id: str, reason: str) -> None:
        """The receiver refused the item for good; it stays (sealed) for an administrator."""
        self._settle(item_id, settle_rejected, str(reason)[:200])
        self.ctx.audit_quietly("item.rejected", item_id=item_id, reason=str(reason)[:200])

    def release(self, item_id: str, retry_at: float) -> None:
        """A failed attempt: back to ``queued`` (or out of the outbox if discarded meanwhile)."""
        item = self._item(item_id)
        if item["state"] != "sending":
            return
        if is_discarded_capture(self.ctx, item):
            self._settle(item_id, discard_item)
            return
        self._settle(item_id, settle_requeued, float(retry_at))

    def reschedule(self, shift: float, latest: float) -> None:
        """Retry times follow a wall-clock step and are never later than ``latest``, so a
        clock that stepped back (NTP after a boot with a future clock) holds nothing back."""
        with self.ctx.mutex, self.ctx.catalog.transaction() as db:
            reschedule_retries(db, float(shift), float(latest))

    def pending_count(self) -> int:
        return self.ctx.catalog.pending_count()

    def counts(self) -> dict[str, int]:
        """Items per state (for the UI and doctor)."""
        return self.ctx.catalog.counts()
