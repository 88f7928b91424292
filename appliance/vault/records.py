"""What the vault hands back to its callers (the workflow and the review UI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CaptureRecord:
    """What :meth:`Vault.store_capture` returns once the capture is durable."""

    capture_id: str
    created_at: float
    pseudonym: str | None
    size: int


@dataclass(frozen=True)
class CaptureSummary:
    """One row of the review list (no image, no identifier)."""

    capture_id: str
    created_at: float
    state: str
    pseudonym: str | None
    reviewable: bool
    delivered_at: float | None
    attempts: int
    kind: str = "capture"  # or "document"


@dataclass(frozen=True)
class ReviewCapture:
    """A capture (or document) opened with the review key; ``metadata`` has this start's
    amendments applied. A document has its ``pdf`` and no ``image``."""

    capture_id: str
    state: str
    metadata: dict[str, Any]
    image: bytes
    preview: bytes
    kind: str = "capture"
    pdf: bytes = b""
