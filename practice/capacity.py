"""Whether the receiver can take items now, and when it expects to again.

A receiver whose disk is full must not answer every upload with its own failure (a station
with a backlog would send them all, and learn nothing from each): it answers ``503
receiver_full`` with ``Retry-After``, the station pauses delivery as a whole, and the
receiver's mDNS record says ``state=full`` until space is back, then ``state=accepting``
(a changed record wakes the stations at once; see docs/sync-protocol.md).

The check is free space against the upload's length plus a reserve (so nothing streams into a
disk that cannot hold it), and any ENOSPC that gets through anyway marks the receiver full.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: Free space kept beyond the item being received (the database, the audit log, sidecars).
DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024
#: What ``Retry-After`` asks while full; the mDNS record announces recovery sooner.
DEFAULT_RETRY_AFTER_SECONDS = 30


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, or SQLite's "database or disk is full"."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return "full" in str(exc).lower()
    return False


class Capacity:
    """The receiver's "can I take this" state; ``on_change(accepting)`` fires on each flip."""

    def __init__(self, data_dir: Path, *, reserve_bytes: int = DEFAULT_RESERVE_BYTES,
                 retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.reserve_bytes = reserve_bytes
        self.retry_after_seconds = retry_after_seconds
        self.on_change = on_change
        self._full = False
        self._lock = threading.Lock()

    @property
    def accepting(self) -> bool:
        return not self._full

    def _free(self) -> int:
        try:
            return shutil.disk_usage(self.data_dir).free
        except OSError:
            return 0

    def room_for(self, length: int) -> bool:
        """True when an item of ``length`` bytes fits with the reserve left (a refusal marks
        the receiver full; once full, only :meth:`check` passing makes it accept again)."""
        if self._full and not self.check():
            return False
        fits = self._free() >= length + self.reserve_bytes
        if not fits:
            self.mark_full()
        return fits

    def check(self) -> bool:
        """Periodic look (``serve`` calls it): accepting again once the reserve is free."""
        if self._full:
            self._set(full=self._free() < self.reserve_bytes * 2)
        return not self._full

    def mark_full(self) -> None:
        """An ENOSPC got through: refuse until :meth:`check` sees space again."""
        self._set(full=True)

    def _set(self, *, full: bool) -> None:
        with self._lock:
            if full == self._full:
                return
            self._full = full
        log.warning("receiver disk %s", "full: refusing uploads (503) until space is freed"
                    if full else "has room again: accepting uploads")
        if self.on_change is not None:
            try:
                self.on_change(not full)
            except Exception:  # telling stations is a courtesy; the 503 stays authoritative
                log.exception("could not announce the receiver's state")
