"""What the vault's parts share: one state directory's catalog, audit log, keys and policy.

:class:`~.vault.Vault` builds one :class:`VaultContext` and hands it to each part (capture
store, review, outbox, shredding, audit export), so they all see the same settings (a test
or the doctor may change :class:`Policy` on a running vault) and serialise on one mutex.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.audit import AuditLog
from sync.envelope import SUFFIX

from ..paths import StatePaths
from .catalog import Catalog
from .keys import SessionKeys, StationIdentity
from .practicekey import PracticeKey

log = logging.getLogger("capture_station.vault")


@dataclass
class Policy:
    """The vault's limits (``[vault]`` in the configuration)."""

    #: Free space a capture may not eat into.
    reserve_bytes: int
    #: How long a delivered capture stays reviewable before it is shredded.
    review_window_seconds: float
    #: How long an upload holds an item before another attempt may take it.
    lease_seconds: float


@dataclass
class VaultContext:
    """The shared pieces; ``mutex`` orders amendments, discards, shreds and settlements."""

    paths: StatePaths
    catalog: Catalog
    audit: AuditLog
    keys: SessionKeys
    identity: StationIdentity
    clock: Callable[[], float]
    policy: Policy
    practice_key: PracticeKey
    mutex: threading.RLock = field(default_factory=threading.RLock)

    @property
    def station_id(self) -> str:
        return self.identity.station_id

    def path(self, file: str) -> Path:
        """Where a sealed file named in the catalog lives."""
        return self.paths.captures / file

    @staticmethod
    def file_for(item_id: str) -> str:
        """The sealed file name of an item."""
        return f"{item_id}{SUFFIX}"

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")

    def audit_quietly(self, event: str, **fields: Any) -> None:
        """Audit without letting a full disk turn a stored capture into a reported failure."""
        try:
            self.audit.record(event, **fields)
        except OSError as exc:
            log.error("audit record %s not written: %s", event, exc.strerror)
