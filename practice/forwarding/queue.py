"""The durable forward queue: one row per (filed item, destination), in ``DIR/forwarding.sqlite``.

Store and forward: the receiver calls :meth:`ForwardQueue.enqueue` right after filing (inside
its filing lock, before the receipt), so an item the station was told is received is also
queued for every destination. Rows survive restarts (SQLite, ``synchronous=FULL``); the
:class:`~.forwarder.Forwarder` drains them.

States: ``pending`` (waiting for its next attempt, with the last error if an attempt failed),
``forwarded`` (the destination accepted it) and ``failed`` (the destination refused it for
good, or it cannot be built; the reason is kept; ``capture-receiver forward retry`` re-arms
it). An amendment waits until everything earlier for the same capture and destination is
forwarded, so a PACS never gets a correction before the instance it corrects.

Time: ``next_attempt`` is wall-clock (it must survive a restart, which a monotonic clock does
not). A clock that jumps back cannot strand an item: one due further ahead than the longest
backoff is treated as due now.

The state of each capture is also written beside it in the patient file,
``<stem>.forward.json`` (destination -> item -> state, attempts, last error, when forwarded,
when a pending row is next tried), so whoever opens the folder (and the patient-file UI) sees
whether the PACS and the EHR have it; once a retraction moved the capture to
``DIR/retracted/``, the file follows it there (and leaves the patient folder). A row keeps the
paths the item was filed at; :func:`~.filed.capture_of` finds it wherever it is now. An
amendment is queued at its capture's history file (its ``filed_path``). Errors recorded never
hold patient data: they are HTTP status codes, DICOM failure codes and exception class names.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.durable import fsync_dir, remove_durably, write_durably

from ..filing import RETRACTED_SUFFIX
from .config import ForwardingConfig, load_config
from .filed import FiledError, capture_of

DB_NAME = "forwarding.sqlite"
KINDS = ("capture", "document", "amendment")
STATES = ("pending", "forwarded", "failed")
STATUS_SUFFIX = ".forward.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('capture', 'document', 'amendment')),
    capture_id   TEXT NOT NULL,
    filed_path   TEXT NOT NULL,
    payload_path TEXT NOT NULL,
    destination  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'forwarded', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error   TEXT,
    enqueued_at  TEXT NOT NULL,
    forwarded_at TEXT,
    UNIQUE (item_id, destination)
);
CREATE INDEX IF NOT EXISTS items_due ON items (destination, state, next_attempt);
CREATE INDEX IF NOT EXISTS items_capture ON items (capture_id, destination, seq);
"""

#: A pending row of destination ``?`` that nothing earlier for its capture holds back.
_READY = ("i.destination = ? AND i.state = 'pending' AND NOT EXISTS (SELECT 1 FROM items AS e "
          "WHERE e.destination = i.destination AND e.capture_id = i.capture_id "
          "AND e.seq < i.seq AND e.state != 'forwarded')")


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class QueueItem:
    seq: int
    item_id: str
    kind: str
    capture_id: str
    filed_path: str
    payload_path: str
    destination: str
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    enqueued_at: str
    forwarded_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Result:
    """What became of one attempt: ``forwarded``, ``pending`` (retry after ``delay_s``) or
    ``failed``, with the error."""

    state: str
    error: str = ""
    delay_s: float = 0.0


class ForwardQueue:
    """The queue of one practice data directory (thread-safe; one connection, one lock)."""

    def __init__(self, data_dir: Path, config: ForwardingConfig | None = None, *,
                 clock: Any = time.time) -> None:
        self.data_dir = Path(data_dir)
        self.config = config if config is not None else load_config(self.data_dir)
        self.clock = clock
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()  # one status-file writer at a time: newest wins
        self._wakeups: list[threading.Event] = []
        self._db = sqlite3.connect(self.data_dir / DB_NAME, check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        (self.data_dir / DB_NAME).chmod(0o600)

    def subscribe(self) -> threading.Event:
        """An event set whenever a row becomes due now (enqueue, retry): a worker waits on it."""
        event = threading.Event()
        with self._lock:
            self._wakeups.append(event)
        return event

    def notify(self) -> None:
        with self._lock:
            events = list(self._wakeups)
        for event in events:
            event.set()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- filling -------------------------------------------------------------------------------

    def enqueue(self, kind: str, item_id: str, filed_path: str | Path) -> int:
        """Queue a filed capture, document or amendment (retraction = an amendment) for every
        configured destination; returns how many rows were added (a repeat adds none)."""
        if kind not in KINDS:
            return 0
        if not self.config.destinations:
            return 0
        filed = self.data_dir / filed_path
        rel = str(filed.relative_to(self.data_dir))
        if kind == "amendment":  # filed at its capture's history file
            try:
                payload, capture_id = capture_of(self.data_dir, filed)
            except FiledError:
                return 0  # not applied to a filed capture: nothing the destinations could use
        else:
            payload, capture_id = filed, item_id
        now, stamp = self.clock(), _utc_now()
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for dest in self.config.destinations:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO items (item_id, kind, capture_id, filed_path, "
                        "payload_path, destination, state, next_attempt, enqueued_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (item_id, kind, capture_id, rel,
                         str(payload.relative_to(self.data_dir)), dest.name, now, stamp))
                    added += cur.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if added:
            self._write_statuses({capture_id})
            self.notify()
        return added

    # -- draining ------------------------------------------------------------------------------

    def due(self, destination: str, limit: int = 16) -> list[QueueItem]:
        """Pending rows of ``destination`` whose time has come, in order, each one only when
        everything earlier for its capture and destination is forwarded."""
        now = self.clock()
        horizon = now + self.config.retry_max_s
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM items AS i WHERE {_READY} "  # noqa: S608 - fixed SQL
                "AND (next_attempt <= ? OR next_attempt > ?) ORDER BY seq LIMIT ?",
                (destination, now, horizon, limit)).fetchall()
        return [QueueItem(**dict(r)) for r in rows]

    def seconds_until_due(self, destination: str) -> float | None:
        """How long until the next pending row of ``destination`` is due (None: none)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT MIN(next_attempt) FROM items AS i WHERE {_READY}",  # noqa: S608
                (destination,)).fetchone()
        if row[0] is None:
            return None
        return max(0.0, min(row[0] - self.clock(), self.config.retry_max_s))

    def record(self, results: Sequence[tuple[QueueItem, Result]]) -> None:
        """The outcomes of several rows in one transaction, then their status files."""
        now, stamp = self.clock(), _utc_now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for item, result in results:
                    if result.state == "forwarded":
                        self._db.execute(
                            "UPDATE items SET state = 'forwarded', attempts = attempts + 1, "
                            "last_error = NULL, forwarded_at = ? WHERE seq = ?",
                            (stamp, item.seq))
                    else:
                        self._db.execute(
                            "UPDATE items SET state = ?, attempts = attempts + 1, "
                            "last_error = ?, next_attempt = ? WHERE seq = ?",
                            (result.state, result.error[:300], now + result.delay_s,
                             item.seq))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._write_statuses({item.capture_id for item, _ in results})

    def mark_forwarded(self, item: QueueItem) -> None:
        self.record([(item, Result("forwarded"))])

    def mark_retry(self, item: QueueItem, error: str, delay_s: float) -> None:
        self.record([(item, Result("pending", error, delay_s))])

    def mark_failed(self, item: QueueItem, error: str) -> None:
        self.record([(item, Result("failed", error))])

    def retry_failed(self, item_ids: list[str] | None = None) -> int:
        """Re-arm failed rows (all, or those of the given items); returns how many."""
        with self._lock:
            if item_ids:
                marks = ",".join("?" * len(item_ids))
                cur = self._db.execute(
                    f"UPDATE items SET state = 'pending', next_attempt = ? WHERE state = "  # noqa: S608
                    f"'failed' AND (item_id IN ({marks}) OR capture_id IN ({marks}))",
                    (self.clock(), *item_ids, *item_ids))
            else:
                cur = self._db.execute("UPDATE items SET state = 'pending', next_attempt = ? "
                                       "WHERE state = 'failed'", (self.clock(),))
            captures = [r[0] for r in self._db.execute(
                "SELECT DISTINCT capture_id FROM items WHERE state = 'pending' AND "
                "next_attempt >= ?", (self.clock() - 1,))]
        self._write_statuses(set(captures))
        if cur.rowcount:
            self.notify()
        return cur.rowcount

    # -- reading -------------------------------------------------------------------------------

    def items(self, capture_id: str | None = None) -> list[QueueItem]:
        with self._lock:
            if capture_id is None:
                rows = self._db.execute("SELECT * FROM items ORDER BY seq").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM items WHERE capture_id = ? ORDER BY seq",
                                        (capture_id,)).fetchall()
        return [QueueItem(**dict(r)) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """destination -> state -> rows."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for dest, state, n in self._db.execute(
                    "SELECT destination, state, COUNT(*) FROM items GROUP BY 1, 2"):
                out.setdefault(dest, {s: 0 for s in STATES})[state] = n
        return out

    def _write_statuses(self, capture_ids: set[str]) -> None:
        """``<stem>.forward.json`` beside each capture: where it is, per destination (each
        file written durably; each folder's entry synced once)."""
        with self._status_lock:
            folders = {self._write_status_locked(c) for c in sorted(capture_ids)}
        for folder in folders - {None}:
            try:
                fsync_dir(folder)
            except OSError:
                pass

    def _write_status_locked(self, capture_id: str) -> Path | None:
        items = self.items(capture_id)
        if not items:
            return None
        status: dict[str, dict[str, Any]] = {}
        for item in items:
            status.setdefault(item.destination, {})[item.item_id] = {
                "kind": item.kind, "state": item.state, "attempts": item.attempts,
                "last_error": item.last_error, "forwarded_at": item.forwarded_at,
                "next_attempt_at": _iso(item.next_attempt) if item.state == "pending"
                else None}
        queued = self.data_dir / items[0].payload_path
        try:  # where the capture is now: a retraction moved it to quarantine
            payload, _ = capture_of(self.data_dir, queued)
        except FiledError:
            payload = queued
        target = _status_path(payload)
        try:
            write_durably(target, json.dumps(status, indent=2, sort_keys=True).encode(), 0o640,
                          sync_dir=False)
            if target != _status_path(queued):
                remove_durably(_status_path(queued))  # no trace left in the patient folder
        except OSError:
            return None  # the queue is the record; the file is a view, rewritten next change
        return target.parent


def _iso(epoch: float) -> str:
    """A wall-clock time stamp as the status file shows it (UTC, seconds)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _status_path(payload: Path) -> Path:
    """``<stem>.forward.json`` beside a payload (``<stem>.jpg``, or ``.jpg.retracted``)."""
    stem = payload.name.removesuffix(RETRACTED_SUFFIX).rsplit(".", 1)[0]
    return payload.with_name(stem + STATUS_SUFFIX)
