"""The receiver's bookkeeping in SQLite: stations, enrolment tokens, received items, nonces.

One small database beside the inbox. It holds public keys, token *hashes* (a leaked
database enrols nobody), one row per received item with the exact receipt that was sent (so a
repeat gets byte-identical proof), and the nonces seen inside the signature window (replay
protection). WAL with ``synchronous=FULL``: a receipt is never sent for a row that a power
cut could take back. The CLI (approve, revoke) and the server share it across processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import PracticeError

DB_NAME = "receiver.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    station_id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    name TEXT NOT NULL,
    room TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
    enrolled_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    last_seen TEXT,
    last_delivery TEXT,
    queue_depth INTEGER,
    version TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL,
    require_approval INTEGER NOT NULL,
    used_at TEXT,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    station_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    sealed_path TEXT NOT NULL,
    filed_path TEXT,
    receipt BLOB NOT NULL,
    subject TEXT
);
CREATE TABLE IF NOT EXISTS nonces (
    station_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (station_id, nonce)
);
"""


class TokenError(PracticeError):
    """The enrolment token cannot be used. The message is the same for an unknown, a used
    and an expired token (whoever holds a guessed or stolen token learns nothing from it);
    ``reason`` says which, for the server's log only."""

    MESSAGE = ("enrolment token is unknown, already used or expired; make a new one with "
               "`capture-receiver token`")

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason


class StationNotFound(PracticeError, KeyError):
    pass


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def token_hash(token: str) -> str:
    return hashlib.sha256(b"capture-enrol-token\n" + token.encode()).hexdigest()


@dataclass(frozen=True)
class Station:
    station_id: str
    public_key: bytes
    name: str
    room: str
    status: str
    enrolled_at: str
    changed_at: str
    #: Last signed request from the station (any route), UTC.
    last_seen: str | None = None
    #: Last item it delivered (a new one, not a repeat), UTC.
    last_delivery: str | None = None
    #: Items waiting in its outbox, as it last reported (signed display info).
    queue_depth: int | None = None
    #: Its software version, as it last reported.
    version: str | None = None


STATION_COLUMNS = ("station_id, public_key, name, room, status, enrolled_at, changed_at, "
                   "last_seen, last_delivery, queue_depth, version")
#: Columns added after the first release, with their types (added to older databases).
_ADDED_COLUMNS = {"stations": {"last_seen": "TEXT", "last_delivery": "TEXT",
                               "queue_depth": "INTEGER", "version": "TEXT"},
                  "items": {"subject": "TEXT"}}


@dataclass(frozen=True)
class Item:
    item_id: str
    kind: str
    station_id: str
    sha256: str
    size: int
    received_at: str
    sealed_path: str
    filed_path: str | None
    receipt: bytes
    #: For an amendment: the capture it amends (checked against ``station_id`` on filing).
    subject: str | None = None


class ReceiverStore:
    """Thread-safe access to ``<data_dir>/receiver.db``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        for table, added in _ADDED_COLUMNS.items():  # a database from an older release
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column, kind in added.items():
                if column not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.path.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- tokens -------------------------------------------------------------------------------

    def create_token(self, room: str, ttl_seconds: float,
                     require_approval: bool) -> tuple[str, float]:
        """A new one-time token (returned once, stored only as a hash) and its expiry time."""
        token = secrets.token_urlsafe(24)
        expires = time.time() + ttl_seconds
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                (token_hash(token), room, utc_now(), expires, int(require_approval)),
            )
        return token, expires

    def redeem_token(self, token: str, station_id: str, public_key: bytes, name: str) -> Station:
        """Use ``token`` once to register (or re-register) a station; raise TokenError."""
        now = utc_now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT room, expires_at, require_approval, used_at FROM tokens "
                    "WHERE token_hash = ?", (token_hash(token),)).fetchone()
                if row is None:
                    raise TokenError("unknown enrolment token")
                room, expires_at, require_approval, used_at = row
                if used_at is not None:
                    raise TokenError("enrolment token already used")
                if expires_at < time.time():
                    raise TokenError("enrolment token expired")
                existing = self._station_locked(station_id)
                if existing is not None and existing.status == "revoked":
                    status = "revoked"  # a revoked key stays revoked until an admin approves
                else:
                    status = "pending" if require_approval else "approved"
                self._db.execute(
                    "INSERT INTO stations (station_id, public_key, name, room, status, "
                    "enrolled_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(station_id) DO UPDATE SET name=excluded.name, "
                    "room=excluded.room, status=excluded.status, changed_at=excluded.changed_at",
                    (station_id, public_key, name, room, status, now, now),
                )
                self._db.execute(
                    "UPDATE tokens SET used_at = ?, used_by = ? WHERE token_hash = ?",
                    (now, station_id, token_hash(token)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        station = self.station(station_id)
        assert station is not None
        return station

    # -- stations -----------------------------------------------------------------------------

    def _station_locked(self, station_id: str) -> Station | None:
        row = self._db.execute(
            f"SELECT {STATION_COLUMNS} FROM stations WHERE station_id = ?",  # noqa: S608
            (station_id,)).fetchone()
        return Station(*row) if row else None

    def station(self, station_id: str) -> Station | None:
        with self._lock:
            return self._station_locked(station_id)

    def stations(self) -> list[Station]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {STATION_COLUMNS} FROM stations "  # noqa: S608
                "ORDER BY enrolled_at, station_id").fetchall()
        return [Station(*r) for r in rows]

    def set_status(self, station_id: str, status: str) -> Station:
        with self._lock:
            cur = self._db.execute(
                "UPDATE stations SET status = ?, changed_at = ? WHERE station_id = ?",
                (status, utc_now(), station_id))
            if cur.rowcount == 0:
                raise StationNotFound(station_id)
            station = self._station_locked(station_id)
        assert station is not None
        return station

    def record_contact(self, station_id: str, *, queue_depth: int | None,
                       version: str | None, delivered: bool = False) -> None:
        """A signed request from the station arrived: when, and what it reported (a value it
        did not report keeps the last one); ``delivered``: it brought a new item."""
        now = utc_now()
        with self._lock:
            self._db.execute(
                "UPDATE stations SET last_seen = ?, "
                "last_delivery = CASE WHEN ? THEN ? ELSE last_delivery END, "
                "queue_depth = COALESCE(?, queue_depth), version = COALESCE(?, version) "
                "WHERE station_id = ?",
                (now, int(delivered), now, queue_depth, version, station_id))

    # -- replay protection --------------------------------------------------------------------

    def remember_nonce(self, station_id: str, nonce: str, keep_seconds: float) -> bool:
        """Record a nonce; False if it was already seen (a replay)."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE expires < ?", (now,))
            try:
                self._db.execute("INSERT INTO nonces VALUES (?, ?, ?)",
                                 (station_id, nonce, now + keep_seconds))
            except sqlite3.IntegrityError:
                return False
        return True

    # -- items --------------------------------------------------------------------------------

    def item(self, item_id: str) -> Item | None:
        with self._lock:
            row = self._db.execute(
                "SELECT item_id, kind, station_id, sha256, size, received_at, sealed_path, "
                "filed_path, receipt, subject FROM items WHERE item_id = ?",
                (item_id,)).fetchone()
        return Item(*row) if row else None

    def waiting_amendments(self, capture_id: str) -> list[Item]:
        """Amendments received before the capture they name, not yet filed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, kind, station_id, sha256, size, received_at, sealed_path, "
                "filed_path, receipt, subject FROM items WHERE kind = 'amendment' AND "
                "subject = ? AND filed_path IS NULL ORDER BY received_at, item_id",
                (capture_id,)).fetchall()
        return [Item(*row) for row in rows]

    def record_item(self, item: Item) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO items (item_id, kind, station_id, sha256, size, received_at, "
                "sealed_path, filed_path, receipt, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (item.item_id, item.kind, item.station_id, item.sha256, item.size,
                 item.received_at, item.sealed_path, item.filed_path, item.receipt,
                 item.subject),
            )

    def set_filed_path(self, item_id: str, filed_path: str) -> None:
        """Record where a waiting amendment was filed once its capture arrived."""
        with self._lock:
            self._db.execute("UPDATE items SET filed_path = ? WHERE item_id = ?",
                             (filed_path, item_id))

    def item_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
