"""The small interface the uploader needs from whatever queues sealed files.

The station's vault implements it; the uploader (station side of `sync`) consumes it, so
`sync` never imports `appliance`. Tests implement it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class OutboxItem:
    """One sealed file waiting for delivery.

    ``kind`` is 'capture', 'amendment' or 'audit'; ``item_id`` is the UUIDv7 idempotency key
    (the capture id for captures). ``sha256`` is the hex digest of the sealed bytes.
    """

    item_id: str
    kind: str
    path: Path
    size: int
    sha256: str
    attempts: int = 0


class Outbox(Protocol):
    def lease_next(self, lease_seconds: float) -> OutboxItem | None:
        """Move the oldest due ``queued`` item to ``sending`` with a lease, or return None."""

    def open_sealed(self, item: OutboxItem) -> BinaryIO:
        """The sealed bytes, streamed (never read whole into memory)."""

    def mark_delivered(self, item_id: str, receipt: bytes) -> None:
        """A verified receipt arrived: ``sending -> delivered``; shredding may follow later."""

    def mark_rejected(self, item_id: str, reason: str) -> None:
        """The receiver refused the item for good (4xx other than auth/rate): ``rejected``."""

    def release(self, item_id: str, retry_at: float) -> None:
        """A failed attempt: back to ``queued``, not before ``retry_at`` (epoch seconds)."""

    def reschedule(self, shift: float, latest: float) -> None:
        """The wall clock stepped by ``shift`` seconds: move every retry time and lease with
        it (so each keeps the delay it was given), and make none later than ``latest``
        (epoch seconds; a step nobody saw, such as one across a restart, is capped there)."""

    def pending_count(self) -> int:
        """Items queued or sending."""
