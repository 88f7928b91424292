"""The vault's database: which sealed files exist and where each is in the outbox.

SQLite through sqlite-utils, WAL journal, ``synchronous=FULL`` (a committed capture survives a
power cut). It holds no patient identifier and no image: per item its id, kind, file name, size,
SHA-256 and delivery facts; per capture the keyed pseudonym (key in memory only) and which
start's review key can open it.

Outbox states: ``queued -> sending (lease) -> delivered | rejected``; besides those, an item
discarded before delivery is ``discarded`` and one whose file vanished is ``lost``. A shredded
item keeps its state and delivery facts with ``file`` and ``pseudonym`` cleared.

Every statement the vault runs is here, with a name. Reads are :class:`Catalog` methods (each
takes the lock itself); writes are functions of the ``db`` that :meth:`Catalog.transaction`
yields, so a caller composes several of them into one atomic unit::

    with catalog.transaction() as db:
        insert_item(db, ...)
        insert_capture(db, ...)
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

SCHEMA_VERSION = 1
STATES = ("queued", "sending", "delivered", "rejected", "discarded", "lost")
PENDING = ("queued", "sending")
#: ``items.sha256`` of an item whose transfer digest is not computed yet (at first lease).
UNHASHED = ""
Row = dict[str, Any]


def _owner_only(path: Path) -> None:
    """Create the database file (mode 0600) before SQLite opens it, or tighten an old one.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so those are 0600
    too, whatever the process umask (which can only take permissions away).
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if stat.S_IMODE(os.stat(name).st_mode) != 0o600:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


class Catalog:
    """The connection, its lock and the reads (one connection, many threads)."""

    def __init__(self, path: Path) -> None:
        _owner_only(path)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        self.db = Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._create()

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One atomic unit: everything inside commits together or not at all."""
        with self._lock, self.db.atomic():
            yield self.db

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Row]:
        """Any read, for tests and an administrator; the vault itself uses the named reads."""
        with self._lock:
            return list(self.db.query(sql, params))

    def _create(self) -> None:
        with self.transaction() as db:
            db["items"].create({
                "item_id": str, "kind": str, "capture_id": str, "file": str, "size": int,
                "sha256": str, "state": str, "attempts": int, "created_at": float,
                "retry_at": float, "lease_until": float, "delivered_at": float,
                "receipt": bytes, "reason": str, "shredded_at": float,
            }, pk="item_id", not_null={"kind", "size", "sha256", "state", "attempts",
                                       "created_at", "retry_at"},
                defaults={"attempts": 0, "retry_at": 0.0}, if_not_exists=True)
            db["captures"].create({
                "capture_id": str, "created_at": float, "pseudonym": str, "review_kid": str,
                "discarded_at": float, "discard_reason": str,
            }, pk="capture_id", foreign_keys=[("capture_id", "items", "item_id")],
                not_null={"created_at"}, if_not_exists=True)
            db["settings"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db["items"].create_index(["state", "retry_at"], if_not_exists=True)
            db["items"].create_index(["capture_id"], if_not_exists=True)
            db["settings"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)},
                                  ignore=True)

    def integrity_ok(self) -> bool:
        rows = self.query("PRAGMA integrity_check")
        return [r["integrity_check"] for r in rows] == ["ok"]

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    # -- one item or capture ----------------------------------------------------------------

    def item(self, item_id: str) -> Row | None:
        rows = self.query("SELECT * FROM items WHERE item_id = ?", (item_id,))
        return rows[0] if rows else None

    def capture(self, capture_id: str) -> Row | None:
        """The capture's row joined with its outbox item's state and file."""
        rows = self.query(
            "SELECT c.*, i.state, i.file, i.size, i.sha256, i.attempts, i.delivered_at, "
            "i.shredded_at, i.kind FROM captures c JOIN items i ON i.item_id = c.capture_id "
            "WHERE c.capture_id = ?", (capture_id,))
        return rows[0] if rows else None

    def is_discarded(self, capture_id: str) -> bool:
        rows = self.query("SELECT discarded_at FROM captures WHERE capture_id = ?",
                          (capture_id,))
        return bool(rows and rows[0]["discarded_at"] is not None)

    # -- lists ------------------------------------------------------------------------------

    def held_captures(self) -> list[Row]:
        """Captures and documents still held (file present, not discarded, not lost), newest
        first."""
        return self.query(
            "SELECT c.capture_id, c.created_at, c.pseudonym, c.review_kid, i.state, "
            "i.delivered_at, i.attempts, i.kind FROM captures c JOIN items i "
            "ON i.item_id = c.capture_id WHERE c.discarded_at IS NULL AND i.file IS NOT NULL "
            "AND i.state != 'lost' ORDER BY c.created_at DESC, c.capture_id DESC")

    def discarded_amendment_files(self, capture_id: str) -> list[Row]:
        """``item_id, file`` of the capture's discarded amendments whose file is still there."""
        return self.query(
            "SELECT item_id, file FROM items WHERE kind = 'amendment' AND capture_id = ? "
            "AND state = 'discarded' AND file IS NOT NULL", (capture_id,))

    def delivered_before(self, cutoff: float) -> list[Row]:
        """``item_id, file, kind`` of items delivered at or before ``cutoff``, file present."""
        return self.query(
            "SELECT item_id, file, kind FROM items WHERE state = 'delivered' AND file IS NOT "
            "NULL AND delivered_at <= ?", (cutoff,))

    def files(self) -> dict[str, Row]:
        """``item_id, file, size, state`` of every item, by id (for start-up recovery)."""
        rows = self.query("SELECT item_id, file, size, state FROM items")
        return {r["item_id"]: r for r in rows}

    def discard_leftovers(self) -> list[Row]:
        """``item_id, file`` of discarded items (or delivered/rejected items of discarded
        captures) whose file was not removed yet."""
        return self.query(
            "SELECT i.item_id, i.file FROM items i LEFT JOIN captures c "
            "ON c.capture_id = i.item_id WHERE i.file IS NOT NULL AND (i.state = 'discarded' "
            "OR (c.discarded_at IS NOT NULL AND i.state IN ('delivered', 'rejected')))")

    def pending_count(self) -> int:
        """Items ``queued`` or ``sending`` whose file is present."""
        placeholders = ", ".join("?" for _ in PENDING)
        rows = self.query(
            f"SELECT COUNT(*) AS n FROM items WHERE state IN ({placeholders}) "  # noqa: S608
            "AND file IS NOT NULL", PENDING)
        return int(rows[0]["n"])

    def counts(self) -> dict[str, int]:
        """Items per state."""
        rows = self.query("SELECT state, COUNT(*) AS n FROM items GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        """Items per kind (capture, amendment, audit, ...) and state: the status page counts
        photos apart from the corrections and audit batches that travel with them. A discarded
        capture counts as ``discarded`` whatever its delivery state (it was retracted)."""
        rows = self.query(
            "SELECT i.kind, CASE WHEN c.discarded_at IS NOT NULL THEN 'discarded' "
            "ELSE i.state END AS state, COUNT(*) AS n FROM items i LEFT JOIN captures c "
            "ON c.capture_id = i.item_id GROUP BY 1, 2")
        result: dict[str, dict[str, int]] = {}
        for r in rows:
            result.setdefault(r["kind"], {})[r["state"]] = int(r["n"])
        return result


# -- writes (inside ``Catalog.transaction()``) ----------------------------------------------


def insert_item(db: Database, *, item_id: str, kind: str, capture_id: str | None, file: str,
                size: int, sha256: str, created_at: float) -> None:
    """A new ``queued`` outbox row (plain SQL: this is on every capture's critical path)."""
    db.execute(
        "INSERT INTO items (item_id, kind, capture_id, file, size, sha256, state, attempts, "
        "created_at, retry_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, 0.0)",
        (item_id, kind, capture_id, file, size, sha256, created_at))


def insert_capture(db: Database, *, capture_id: str, created_at: float,
                   pseudonym: str | None = None, review_kid: str | None = None) -> None:
    """The capture row beside its item (an adopted orphan has no pseudonym or review key)."""
    db.execute("INSERT INTO captures (capture_id, created_at, pseudonym, review_kid) "
               "VALUES (?, ?, ?, ?)", (capture_id, created_at, pseudonym, review_kid))


def set_setting(db: Database, key: str, value: str) -> None:
    db["settings"].upsert({"key": key, "value": value}, pk="key")


def mark_capture_discarded(db: Database, capture_id: str, at: float, reason: str) -> None:
    db.execute("UPDATE captures SET discarded_at = ?, discard_reason = ? WHERE capture_id = ?",
               (at, reason, capture_id))


def discard_item(db: Database, item_id: str) -> None:
    """The item leaves the outbox for good (its lease, if any, ends)."""
    db.execute("UPDATE items SET state = 'discarded', lease_until = NULL WHERE item_id = ?",
               (item_id,))


def discard_queued_amendments(db: Database, capture_id: str) -> None:
    db.execute("UPDATE items SET state = 'discarded' WHERE kind = 'amendment' "
               "AND capture_id = ? AND state = 'queued'", (capture_id,))


def discard_queued_of_discarded_captures(db: Database) -> None:
    """Queued items of captures discarded meanwhile (an interrupted discard) are discarded."""
    db.execute("UPDATE items SET state = 'discarded' WHERE state = 'queued' AND item_id IN "
               "(SELECT capture_id FROM captures WHERE discarded_at IS NOT NULL)")


def forget_file(db: Database, item_id: str, at: float) -> None:
    """The item's file is gone (the row keeps its delivery facts)."""
    db.execute("UPDATE items SET file = NULL, shredded_at = ? WHERE item_id = ?", (at, item_id))


def mark_shredded(db: Database, item_id: str, at: float) -> None:
    """File gone and, for a capture, its pseudonym forgotten."""
    forget_file(db, item_id, at)
    db.execute("UPDATE captures SET pseudonym = NULL WHERE capture_id = ?", (item_id,))


def mark_lost(db: Database, item_id: str) -> None:
    """The file vanished (or was quarantined) before delivery."""
    db.execute("UPDATE items SET state = 'lost', file = NULL WHERE item_id = ?", (item_id,))


def release_all_leases(db: Database) -> int:
    """Every ``sending`` item back to ``queued`` (no upload survives a restart); how many."""
    return db.execute("UPDATE items SET state = 'queued', lease_until = NULL "
                      "WHERE state = 'sending'").rowcount


def lease_oldest_due(db: Database, now: float, lease_until: float) -> Row | None:
    """The oldest due item (queued and due, or sending with an expired lease; not of a
    discarded capture; an amendment only once its capture left the outbox) moved to
    ``sending`` until ``lease_until``; returns its row as it was before the lease."""
    rows = list(db.query(
        "SELECT * FROM items i WHERE i.file IS NOT NULL AND ("
        " (i.state = 'queued' AND i.retry_at <= :now) OR"
        " (i.state = 'sending' AND i.lease_until <= :now))"
        " AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.capture_id = i.item_id"
        "  AND c.discarded_at IS NOT NULL)"
        " AND NOT (i.kind = 'amendment' AND EXISTS (SELECT 1 FROM items p"
        "  WHERE p.item_id = i.capture_id AND p.state IN ('queued', 'sending')))"
        " ORDER BY i.created_at, i.item_id LIMIT 1", {"now": now}))
    if not rows:
        return None
    db.execute("UPDATE items SET state = 'sending', lease_until = ?, attempts = attempts + 1 "
               "WHERE item_id = ?", (lease_until, rows[0]["item_id"]))
    return rows[0]


def record_sha256(db: Database, item_id: str, sha256: str) -> None:
    """Keep the transfer digest of an item that had none yet."""
    db.execute("UPDATE items SET sha256 = ? WHERE item_id = ? AND sha256 = ?",
               (sha256, item_id, UNHASHED))


def settle_delivered(db: Database, item_id: str, at: float, receipt: bytes) -> None:
    db.execute("UPDATE items SET state = 'delivered', delivered_at = ?, receipt = ?, "
               "lease_until = NULL, reason = NULL WHERE item_id = ?", (at, receipt, item_id))


def settle_rejected(db: Database, item_id: str, reason: str) -> None:
    db.execute("UPDATE items SET state = 'rejected', reason = ?, lease_until = NULL "
               "WHERE item_id = ?", (reason, item_id))


def reschedule_retries(db: Database, shift: float, latest: float) -> int:
    """Move queued items' retry times and sending items' leases by ``shift`` seconds (the
    wall clock stepped), and cap retry times at ``latest``; how many rows changed."""
    changed = 0
    if shift:
        changed += db.execute("UPDATE items SET retry_at = retry_at + ? "
                              "WHERE state = 'queued' AND retry_at > 0", (shift,)).rowcount
        changed += db.execute("UPDATE items SET lease_until = lease_until + ? "
                              "WHERE state = 'sending'", (shift,)).rowcount
    changed += db.execute("UPDATE items SET retry_at = ? WHERE state = 'queued' "
                          "AND retry_at > ?", (latest, latest)).rowcount
    return changed


def settle_requeued(db: Database, item_id: str, retry_at: float) -> None:
    db.execute("UPDATE items SET state = 'queued', retry_at = ?, lease_until = NULL "
               "WHERE item_id = ?", (retry_at, item_id))
