"""The vault's database: which sealed files exist and where each is in the outbox.

SQLite through sqlite-utils, WAL journal, ``synchronous=FULL`` (a committed capture survives a
power cut). It holds no patient identifier and no image: per item its id, kind, file name, size,
SHA-256 and delivery facts; per capture the keyed pseudonym (key in memory only) and which
start's review key can open it.

Outbox states: ``queued -> sending (lease) -> delivered | rejected``; besides those, an item
discarded before delivery is ``discarded`` and one whose file vanished is ``lost``. A shredded
item keeps its state and delivery facts with ``file`` and ``pseudonym`` cleared.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

SCHEMA_VERSION = 1
STATES = ("queued", "sending", "delivered", "rejected", "discarded", "lost")
PENDING = ("queued", "sending")


def insert_item(db: Database, *, item_id: str, kind: str, capture_id: str | None, file: str,
                size: int, sha256: str, created_at: float) -> None:
    """A new ``queued`` outbox row (plain SQL: this is on every capture's critical path)."""
    db.execute(
        "INSERT INTO items (item_id, kind, capture_id, file, size, sha256, state, attempts, "
        "created_at, retry_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, 0.0)",
        (item_id, kind, capture_id, file, size, sha256, created_at))


class Catalog:
    """All SQL the vault runs, behind one lock (one connection, many threads)."""

    def __init__(self, path: Path) -> None:
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

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) \
            -> list[dict[str, Any]]:
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

    # -- settings ---------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_setting(self, db: Database, key: str, value: str) -> None:
        db["settings"].upsert({"key": key, "value": value}, pk="key")

    # -- reads ------------------------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM items WHERE item_id = ?", (item_id,))
        return rows[0] if rows else None

    def capture(self, capture_id: str) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT c.*, i.state, i.file, i.size, i.sha256, i.attempts, i.delivered_at, "
            "i.shredded_at FROM captures c JOIN items i ON i.item_id = c.capture_id "
            "WHERE c.capture_id = ?", (capture_id,))
        return rows[0] if rows else None

    def integrity_ok(self) -> bool:
        rows = self.query("PRAGMA integrity_check")
        return [r["integrity_check"] for r in rows] == ["ok"]
