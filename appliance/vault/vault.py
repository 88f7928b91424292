"""The vault: seal each capture in memory, store it durably, queue it, let staff review it.

What reaches the disk is sealed files (``captures/<id>.sealed``, see ``docs/envelope.md``), the
catalog database (delivery facts and keyed pseudonyms, :mod:`.catalog`) and the audit log.
:class:`Vault` holds the state directory (a lock file keeps it to one process), runs start-up
recovery and composes the parts, each with one job:

* :class:`.store.CaptureStore`: seal and queue a capture or a scanned document;
* :class:`.review.Review`: list, open, amend and discard this start's captures;
* :class:`.outbox.VaultOutbox`: the :class:`sync.outbox.Outbox` the uploader drives;
* :mod:`.shredding` and :mod:`.auditexport`: periodic upkeep (:meth:`Vault.tick`).

Threads: the capture thread, the web UI and the uploader may all call in at once; the catalog
serialises database work; sealing and file writes run outside its lock, on the
calling thread.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sync.audit import AuditLog
from sync.outbox import OutboxItem

from ..paths import StatePaths
from .auditexport import queue_audit_batch
from .catalog import Catalog
from .context import Policy, VaultContext
from .errors import VaultError
from .keys import SessionKeys, StationIdentity, load_or_create_identity
from .outbox import VaultOutbox
from .practicekey import PracticeKey
from .records import CaptureRecord, CaptureSummary, ReviewCapture
from .recovery import RecoveryReport, recover
from .review import Review
from .shredding import shred_due
from .store import MIB, CaptureStore


def _lock_state_dir(root: Path) -> int:
    """An exclusive lock on ``root/vault.lock`` (held until the fd closes), or VaultError."""
    fd = os.open(root / "vault.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise VaultError(f"state directory {root} is in use by another "
                         "station process") from None
    return fd


def _policy_field(name: str) -> property:
    """An attribute of the vault that reads and writes ``vault.policy.<name>``."""
    return property(lambda self: getattr(self.policy, name),
                    lambda self, value: setattr(self.policy, name, value))


class Vault:
    """The station's sealed store and outbox. One per state directory (a lock file enforces it)."""

    def __init__(
        self,
        paths: StatePaths,
        *,
        reserve_bytes: int = 256 * MIB,
        review_window_seconds: float = 24 * 3600.0,
        lease_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
        audit_fsync: bool = True,
    ) -> None:
        self.paths = paths
        self.policy = Policy(reserve_bytes, review_window_seconds, lease_seconds)
        self.clock = clock
        paths.ensure()
        self._lock_fd = _lock_state_dir(paths.root)
        try:
            self.identity: StationIdentity = load_or_create_identity(paths)
            self.keys = SessionKeys()
            self.audit = AuditLog(paths.audit_log, fsync=audit_fsync, clock=clock)
            self.catalog = Catalog(paths.db)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._ctx = VaultContext(paths, self.catalog, self.audit, self.keys, self.identity,
                                 clock, self.policy, PracticeKey(paths))
        self.store = CaptureStore(self._ctx)
        self.review = Review(self._ctx)
        self.outbox = VaultOutbox(self._ctx)
        self.recovery: RecoveryReport = recover(
            self.catalog, paths.captures, self.station_id, self._ctx.audit_quietly, clock)
        self._ctx.audit_quietly("vault.started", station_id=self.station_id,
                                review_kid=self.keys.review_kid, **self.recovery.nonzero())

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> Vault:
        """A vault for a loaded :class:`~appliance.config.Config` (``[station]``, ``[vault]``)."""
        options = {
            "reserve_bytes": int(cfg.vault.reserve_mb) * MIB,
            "review_window_seconds": float(cfg.vault.review_window_hours) * 3600.0,
            "lease_seconds": float(cfg.vault.lease_seconds),
        }
        options.update(overrides)
        return cls(StatePaths(cfg.state_dir), **options)

    def close(self) -> None:
        self.catalog.close()
        self.audit.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts and policy -------------------------------------------------------------------

    @property
    def station_id(self) -> str:
        return self.identity.station_id

    @property
    def review_kid(self) -> str:
        return self.keys.review_kid

    #: The :class:`~.context.Policy` limits, settable on a running vault (tests, the doctor).
    reserve_bytes = _policy_field("reserve_bytes")
    review_window_seconds = _policy_field("review_window_seconds")
    lease_seconds = _policy_field("lease_seconds")

    # -- capture and review (see .store, .review) -------------------------------------------

    def store_capture(self, jpeg: bytes, metadata: Mapping[str, Any], *,
                      preview: bytes | None = None) -> CaptureRecord:
        """See :meth:`.store.CaptureStore.store_capture`."""
        return self.store.store_capture(jpeg, metadata, preview=preview)

    def store_document(self, pdf: bytes, metadata: Mapping[str, Any], *,
                       preview: bytes) -> CaptureRecord:
        """See :meth:`.store.CaptureStore.store_document`."""
        return self.store.store_document(pdf, metadata, preview=preview)

    def list_captures(self, *, include_previous: bool = False) -> list[CaptureSummary]:
        """See :meth:`.review.Review.list_captures`."""
        return self.review.list_captures(include_previous=include_previous)

    def open_for_review(self, capture_id: str, *, operator: str | None = None,
                        preview_only: bool = False, part: str | None = None,
                        record: bool = True) -> ReviewCapture:
        """See :meth:`.review.Review.open_for_review`."""
        return self.review.open_for_review(capture_id, operator=operator,
                                           preview_only=preview_only, part=part,
                                           record=record)

    def amend(self, capture_id: str, changes: Mapping[str, Any], operator: str | None) -> str:
        """See :meth:`.review.Review.amend`."""
        return self.review.amend(capture_id, changes, operator)

    def discard(self, capture_id: str, reason: str, operator: str | None) -> str | None:
        """See :meth:`.review.Review.discard`."""
        return self.review.discard(capture_id, reason, operator)

    # -- upkeep (see .shredding, .auditexport) ----------------------------------------------

    def shred_due(self, now: float | None = None) -> int:
        """See :func:`.shredding.shred_due`."""
        return shred_due(self._ctx, now)

    def queue_audit_batch(self) -> str | None:
        """See :func:`.auditexport.queue_audit_batch`."""
        return queue_audit_batch(self._ctx)

    def tick(self, now: float | None = None) -> dict[str, Any]:
        """Periodic upkeep (call every minute or so): shred what is due, export audit lines."""
        shredded = self.shred_due(now)
        batch = self.queue_audit_batch()
        return {"shredded": shredded, "audit_batch": batch}

    # -- the Outbox interface for the uploader (see .outbox) --------------------------------

    def lease_next(self, lease_seconds: float | None = None) -> OutboxItem | None:
        """See :meth:`.outbox.VaultOutbox.lease_next`."""
        return self.outbox.lease_next(lease_seconds)

    def open_sealed(self, item: OutboxItem) -> BinaryIO:
        return self.outbox.open_sealed(item)

    def mark_delivered(self, item_id: str, receipt: bytes) -> None:
        """See :meth:`.outbox.VaultOutbox.mark_delivered`."""
        self.outbox.mark_delivered(item_id, receipt)

    def mark_rejected(self, item_id: str, reason: str) -> None:
        """See :meth:`.outbox.VaultOutbox.mark_rejected`."""
        self.outbox.mark_rejected(item_id, reason)

    def release(self, item_id: str, retry_at: float) -> None:
        """See :meth:`.outbox.VaultOutbox.release`."""
        self.outbox.release(item_id, retry_at)

    def reschedule(self, shift: float, latest: float) -> None:
        """See :meth:`.outbox.VaultOutbox.reschedule`."""
        self.outbox.reschedule(shift, latest)

    def pending_count(self) -> int:
        return self.outbox.pending_count()

    def counts(self) -> dict[str, int]:
        """Items per state (for the UI and doctor)."""
        return self.outbox.counts()

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        """Items per kind and state (see :meth:`.catalog.Catalog.counts_by_kind`)."""
        return self.catalog.counts_by_kind()
