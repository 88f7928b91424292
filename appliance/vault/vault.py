"""The vault: seal each capture in memory, store it durably, queue it, let staff review it.

What reaches the disk is sealed files (``captures/<id>.sealed``, see ``docs/envelope.md``), the
catalog database (delivery facts and keyed pseudonyms, :mod:`.catalog`) and the audit log. A
capture is sealed to the practice key (from enrolment) and to this start's review key (memory
only), so the review UI can show this start's captures and nothing on disk opens after a
restart. It implements :class:`sync.outbox.Outbox` for the uploader.

Threads: the capture thread, the web UI and the uploader may all call in at once; the catalog
serialises database work, sealing and file writes run outside its lock. A capture is sealed and
written by the calling thread while a ``vault-seal`` worker checks its image data
(:mod:`.sealing`); after the file is durable, its audit line is written there while the row
commits.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from sync.envelope import (
    EnvelopeError,
    encode_metadata,
    load_public_key,
    open_envelope,
    seal_chunks,
)
from sync.outbox import OutboxItem

from ..enrolment import NotEnrolledError, load_enrolment
from ..paths import StatePaths
from . import durable
from .audit import AuditLog, iter_lines
from .catalog import PENDING, Catalog, insert_item
from .errors import DiskFullError, NotReviewableError, UnknownCaptureError, VaultError
from .exif import strip_identifying_metadata, strip_plan
from .ids import uuid7
from .keys import SessionKeys, StationIdentity, load_or_create_identity
from .preview import make_preview
from .recovery import RecoveryReport, recover
from .sealing import WORKER_THREADS, seal_capture_file

log = logging.getLogger("capture_station.vault")

MIB = 1024 * 1024
#: Room for the envelope header, the preview and the database beyond the image itself.
WRITE_MARGIN = 256 * 1024
#: Metadata keys an amendment may not change: identity and provenance travel only with the
#: capture. A capture of the wrong patient is discarded and taken again, never re-labelled.
FROZEN_KEYS = frozenset({
    "patient_id", "issuer", "encounter", "provenance", "capture_id", "station_id",
    "station_name", "captured_at", "clock_synced", "session_id", "sequence",
})
DISCARD_REASONS = ("wrong_patient", "poor_quality", "duplicate", "consent_withdrawn", "other")
AUDIT_BATCH_MAX_BYTES = 512 * 1024
#: ``items.sha256`` of an item whose transfer digest is not computed yet (at first lease).
UNHASHED = ""


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


@dataclass(frozen=True)
class ReviewCapture:
    """A capture opened with the review key; ``metadata`` has this start's amendments applied."""

    capture_id: str
    state: str
    metadata: dict[str, Any]
    image: bytes
    preview: bytes


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower()


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
        self.reserve_bytes = reserve_bytes
        self.review_window_seconds = review_window_seconds
        self.lease_seconds = lease_seconds
        self.clock = clock
        paths.ensure()
        self._lock_fd = self._lock_state_dir()
        try:
            self.identity: StationIdentity = load_or_create_identity(paths)
            self.keys = SessionKeys()
            self.audit = AuditLog(paths.audit_log, fsync=audit_fsync, clock=clock)
            self.catalog = Catalog(paths.db)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._amendments: dict[str, list[dict[str, Any]]] = {}
        self._practice_cache: tuple[bytes, X25519PublicKey] | None = None
        self._mutex = threading.RLock()
        #: Checks, encrypts and writes a capture alongside the capture thread (see .sealing).
        self._sealer = ThreadPoolExecutor(max_workers=WORKER_THREADS,
                                          thread_name_prefix="vault-seal")
        #: Sealed captures are built here; one at a time (the lock), faulted in once.
        self._seal_buffer = durable.AlignedBuffer()
        self._seal_lock = threading.Lock()
        self.recovery: RecoveryReport = recover(
            self.catalog, paths.captures, self.station_id, self._audit, clock)
        self._audit("vault.started", station_id=self.station_id,
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
        self._sealer.shutdown(wait=True)
        with self._seal_lock:
            self._seal_buffer.close()
        self.catalog.close()
        self.audit.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lock_state_dir(self) -> int:
        fd = os.open(self.paths.root / "vault.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise VaultError(f"state directory {self.paths.root} is in use by another "
                             "station process") from None
        return fd

    # -- facts ------------------------------------------------------------------------------

    @property
    def station_id(self) -> str:
        return self.identity.station_id

    @property
    def review_kid(self) -> str:
        return self.keys.review_kid

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")

    def _path(self, file: str) -> Path:
        return self.paths.captures / file

    def _practice_key(self) -> X25519PublicKey:
        """The practice key from the enrolment; parsed again only when the file changed
        (a capture should not pay for JSON and key parsing every time)."""
        try:
            identity = self.paths.enrolment.read_bytes()
        except OSError:
            raise NotEnrolledError() from None
        cached = self._practice_cache
        if cached is not None and cached[0] == identity:
            return cached[1]
        enrolment = load_enrolment(self.paths)
        if enrolment is None:
            raise NotEnrolledError()
        try:
            key = load_public_key(enrolment.practice_key_bytes)
        except (EnvelopeError, ValueError):
            raise NotEnrolledError() from None
        self._practice_cache = (identity, key)
        return key

    def _check_reserve(self, needed: int) -> None:
        try:
            free = shutil.disk_usage(self.paths.root).free
        except OSError as exc:
            raise VaultError(f"cannot check free space ({exc.strerror})") from None
        if free - needed < self.reserve_bytes:
            raise DiskFullError(
                f"disk full: {free // MIB} MB free, {self.reserve_bytes // MIB} MB kept in "
                "reserve; deliver or shred captures to make room")

    def _write_sealed(self, item_id: str, chunks: Iterable[bytes]) -> tuple[str, int, str]:
        """Write the sealed chunks durably (see :func:`.durable.write_new`).

        Returns (file, size, sha256) with sha256 ``""``: the transfer digest is not needed to
        make a capture safe, only to send it, so :meth:`lease_next` computes it on the
        uploader's thread (see :data:`UNHASHED`) instead of making the operator wait for it.
        """
        size = 0

        def count(chunk: bytes | memoryview) -> None:
            nonlocal size
            size += len(chunk)

        file = f"{item_id}.sealed"
        durable.write_new(self._path(file), chunks, on_chunk=count)
        return file, size, UNHASHED

    def _commit(self, file: str, rows: Callable[[Any], None]) -> None:
        """Run the inserts for a freshly written file; on failure the file goes again."""
        try:
            with self.catalog.transaction() as db:
                rows(db)
        except sqlite3.Error as exc:
            durable.remove(self._path(file))
            if _is_full(exc):
                raise DiskFullError("disk full: the catalog could not grow") from None
            raise VaultError(f"the catalog refused the item ({type(exc).__name__})") from None
        except BaseException:
            durable.remove(self._path(file))
            raise

    def _audit(self, event: str, **fields: Any) -> None:
        """Audit without letting a full disk turn a stored capture into a reported failure."""
        try:
            self.audit.record(event, **fields)
        except OSError as exc:
            log.error("audit record %s not written: %s", event, exc.strerror)

    # -- capture ----------------------------------------------------------------------------

    def store_capture(self, jpeg: bytes, metadata: Mapping[str, Any], *,
                      preview: bytes | None = None) -> CaptureRecord:
        """Seal ``jpeg`` (identifying EXIF removed) with ``metadata`` and queue it, durably.

        Raises NotEnrolledError (no practice key yet), DiskFullError (below the reserve or
        out of space) or VaultError; in every case nothing new is left on disk (the failure is
        audited as ``error.capture_failed`` with the error's type only).
        """
        try:
            return self._store_capture(jpeg, metadata, preview)
        except (VaultError, NotEnrolledError) as exc:
            self._audit("error.capture_failed", error=type(exc).__name__)
            raise

    def _store_capture(self, jpeg: bytes, metadata: Mapping[str, Any],
                       preview: bytes | None) -> CaptureRecord:
        practice = self._practice_key()
        if not isinstance(jpeg, bytes | bytearray | memoryview):
            raise VaultError("a capture is JPEG bytes")
        original = bytes(jpeg)
        head = strip_plan(original, head_only=True)  # the header only: microseconds
        small = make_preview(strip_identifying_metadata(original)) if preview is None \
            else strip_identifying_metadata(preview)
        # At most this much: the rest of the image from the first scan on, plus the header.
        self._check_reserve(len(head.head) + len(original) - head.scan_at + len(small)
                            + WRITE_MARGIN)
        capture_id = uuid7()
        meta = dict(metadata)
        meta.setdefault("station_id", self.station_id)
        meta["capture_id"] = capture_id
        patient = meta.get("patient_id")
        pseudonym = self.keys.pseudonyms.patient(meta.get("issuer"), str(patient)) \
            if patient else None
        try:
            encoded = encode_metadata(meta)
        except EnvelopeError as exc:
            raise VaultError(f"capture metadata cannot be stored: {exc}") from None
        file, sha = f"{capture_id}.sealed", UNHASHED  # the digest: see _write_sealed
        try:
            with self._seal_lock:
                size = seal_capture_file(
                    original, path=self._path(file), metadata=encoded, preview=small,
                    recipients=[("practice", practice), ("review", self.keys.review_public)],
                    station_id=self.station_id, item_id=capture_id, worker=self._sealer,
                    buffer=self._seal_buffer)
        except EnvelopeError as exc:
            raise VaultError(f"capture cannot be sealed: {exc}") from None
        now = self.clock()

        def rows(db: Any) -> None:
            insert_item(db, item_id=capture_id, kind="capture", capture_id=capture_id,
                        file=file, size=size, sha256=sha, created_at=now)
            db.execute("INSERT INTO captures (capture_id, created_at, pseudonym, review_kid) "
                       "VALUES (?, ?, ?, ?)", (capture_id, now, pseudonym, self.keys.review_kid))

        # The file is durable: its row and its audit line are independent fsyncs, so the audit
        # line is written on the sealing thread while this one commits. Either may land first
        # in a crash; a durable file whose row never committed is adopted at start-up
        # (recovery.adopted), so a "stored" line never names a capture that is not kept.
        stored = self._sealer.submit(
            self._audit, "capture.stored", capture_id=capture_id, pseudonym=pseudonym,
            size=size, operator=meta.get("operator"))
        try:
            self._commit(file, rows)
        except BaseException:
            stored.result()
            self._audit("capture.withdrawn", capture_id=capture_id)  # the file is gone again
            raise
        stored.result()
        return CaptureRecord(capture_id, now, pseudonym, size)

    # -- review -----------------------------------------------------------------------------

    def list_captures(self, *, include_previous: bool = False) -> list[CaptureSummary]:
        """Captures still held (not shredded or discarded), newest first.

        By default only this start's captures (the ones the review key can open).
        """
        rows = self.catalog.query(
            "SELECT c.capture_id, c.created_at, c.pseudonym, c.review_kid, i.state, "
            "i.delivered_at, i.attempts FROM captures c JOIN items i "
            "ON i.item_id = c.capture_id WHERE c.discarded_at IS NULL AND i.file IS NOT NULL "
            "AND i.state != 'lost' ORDER BY c.created_at DESC, c.capture_id DESC")
        result = []
        for row in rows:
            reviewable = row["review_kid"] == self.review_kid
            if reviewable or include_previous:
                result.append(CaptureSummary(
                    row["capture_id"], row["created_at"], row["state"], row["pseudonym"],
                    reviewable, row["delivered_at"], row["attempts"]))
        return result

    def _reviewable_row(self, capture_id: str) -> dict[str, Any]:
        row = self.catalog.capture(capture_id)
        if row is None:
            raise UnknownCaptureError(capture_id)
        if row["discarded_at"] is not None:
            raise NotReviewableError("this capture was discarded")
        if row["file"] is None:
            raise NotReviewableError("this capture was delivered and shredded after the "
                                     "review window; the practice holds it")
        if row["review_kid"] != self.review_kid:
            raise NotReviewableError("this capture was sealed before the station last started; "
                                     "only the practice can open it")
        return row

    def open_for_review(self, capture_id: str, *, operator: str | None = None,
                        preview_only: bool = False) -> ReviewCapture:
        """Decrypt a capture of this start with the in-memory review key (audited)."""
        row = self._reviewable_row(capture_id)
        try:
            opened = open_envelope(self._path(row["file"]), self.keys.review_private, "review",
                                   only=["preview"] if preview_only else None)
        except EnvelopeError as exc:
            self._audit("error.review_open", capture_id=capture_id, reason=str(exc)[:200])
            raise NotReviewableError(f"the sealed file cannot be opened: {exc}") from None
        metadata = dict(opened.metadata)
        for changes in self._amendments.get(capture_id, []):
            metadata.update(changes)
        try:
            # Fail closed: an image nobody could record as viewed is not shown.
            self.audit.record("capture.viewed", capture_id=capture_id, operator=operator,
                              part="preview" if preview_only else "image")
        except OSError as exc:
            log.error("capture view refused: audit log not writable (%s)", exc.strerror)
            raise VaultError("the view could not be recorded in the audit log (disk full?); "
                             "the image is not shown") from None
        return ReviewCapture(capture_id, row["state"], metadata, opened.image, opened.preview)

    # -- amendments and discards --------------------------------------------------------------

    def _queue_amendment(self, capture_id: str, body: dict[str, Any]) -> str:
        practice = self._practice_key()
        amendment_id = uuid7()
        meta = {"amends": capture_id, "at": self._now_iso(), "station_id": self.station_id,
                **body}
        try:
            encoded = encode_metadata(meta)
        except EnvelopeError as exc:
            raise VaultError(f"amendment cannot be stored: {exc}") from None
        chunks = seal_chunks(
            "amendment", {"metadata": encoded},
            recipients=[("practice", practice), ("review", self.keys.review_public)],
            station_id=self.station_id, item_id=amendment_id, subject=capture_id)
        file, size, sha = self._write_sealed(amendment_id, chunks)
        now = self.clock()
        self._commit(file, lambda db: insert_item(
            db, item_id=amendment_id, kind="amendment", capture_id=capture_id, file=file,
            size=size, sha256=sha, created_at=now))
        return amendment_id

    def amend(self, capture_id: str, changes: Mapping[str, Any], operator: str | None) -> str:
        """Change tags of a capture; a sealed amendment naming it is queued. Returns its id."""
        if not isinstance(changes, Mapping) or not changes:
            raise VaultError("an amendment needs at least one change")
        if any(not isinstance(k, str) for k in changes):
            raise VaultError("amendment keys are strings")
        frozen = sorted(set(changes) & FROZEN_KEYS)
        if frozen:
            raise VaultError(f"{', '.join(frozen)} cannot be amended; discard the capture and "
                             "take it again")
        with self._mutex:
            row = self.catalog.capture(capture_id)
            if row is None:
                raise UnknownCaptureError(capture_id)
            if row["discarded_at"] is not None:
                raise VaultError("this capture was discarded")
            amendment_id = self._queue_amendment(
                capture_id, {"changes": dict(changes), "operator": operator, "retract": False})
            self._amendments.setdefault(capture_id, []).append(dict(changes))
        self._audit("capture.amended", capture_id=capture_id, amendment_id=amendment_id,
                    changed=sorted(changes), operator=operator)
        return amendment_id

    def discard(self, capture_id: str, reason: str, operator: str | None) -> str | None:
        """Withdraw a capture. Never sent: shredded now. Possibly sent: a sealed retraction is
        queued (its id is returned) and the local copy shredded as soon as no upload holds it.

        ``reason`` travels only inside the sealed retraction; the catalog and the audit log get
        one of :data:`DISCARD_REASONS` (anything else is recorded as ``other``).
        """
        code = reason if reason in DISCARD_REASONS else "other"
        with self._mutex:
            row = self.catalog.capture(capture_id)
            if row is None:
                raise UnknownCaptureError(capture_id)
            if row["discarded_at"] is not None:
                return None
            state = row["state"]
            maybe_sent = state in ("sending", "delivered") or row["attempts"] > 0
            retraction = None
            if maybe_sent:
                retraction = self._queue_amendment(capture_id, {
                    "changes": {}, "operator": operator, "retract": True, "reason": reason})
            now = self.clock()
            with self.catalog.transaction() as db:
                db.execute("UPDATE captures SET discarded_at = ?, discard_reason = ? "
                           "WHERE capture_id = ?", (now, code, capture_id))
                if state in ("queued", "rejected", "lost"):
                    db.execute("UPDATE items SET state = 'discarded' WHERE item_id = ?",
                               (capture_id,))
                if not maybe_sent:  # its amendments must not travel alone
                    db.execute("UPDATE items SET state = 'discarded' WHERE kind = 'amendment' "
                               "AND capture_id = ? AND state = 'queued'", (capture_id,))
            if not maybe_sent:
                for item in self.catalog.query(
                        "SELECT item_id, file FROM items WHERE kind = 'amendment' AND "
                        "capture_id = ? AND state = 'discarded' AND file IS NOT NULL",
                        (capture_id,)):
                    self._shred(item["item_id"], item["file"], audit=False)
            if state != "sending" and row["file"] is not None:
                self._shred(capture_id, row["file"], audit=False)
            self._amendments.pop(capture_id, None)
        self._audit("capture.discarded", capture_id=capture_id, reason=code, operator=operator,
                    retraction_id=retraction, was=state)
        return retraction

    # -- shredding --------------------------------------------------------------------------

    def _shred(self, item_id: str, file: str, *, audit: bool = True) -> None:
        durable.remove(self._path(file))
        with self.catalog.transaction() as db:
            db.execute("UPDATE items SET file = NULL, shredded_at = ? WHERE item_id = ?",
                       (self.clock(), item_id))
            db.execute("UPDATE captures SET pseudonym = NULL WHERE capture_id = ?", (item_id,))
        if audit:
            self._audit("item.shredded", item_id=item_id)

    def _discarded(self, item: dict[str, Any]) -> bool:
        if item["kind"] != "capture":
            return False
        row = self.catalog.query("SELECT discarded_at FROM captures WHERE capture_id = ?",
                                 (item["item_id"],))
        return bool(row and row[0]["discarded_at"] is not None)

    def shred_due(self, now: float | None = None) -> int:
        """Delete sealed files delivered longer than the review window ago; returns how many.

        The row keeps the delivery facts (id, kind, size, hash, receipt, times). On flash
        storage overwriting is no guarantee, so shredding is deletion: what makes a leftover
        block unreadable is that no key for it exists anywhere on the station.
        """
        now = self.clock() if now is None else now
        due = self.catalog.query(
            "SELECT item_id, file, kind FROM items WHERE state = 'delivered' AND file IS NOT "
            "NULL AND delivered_at <= ?", (now - self.review_window_seconds,))
        for item in due:
            with self._mutex:
                self._shred(item["item_id"], item["file"], audit=item["kind"] != "audit")
        return len(due)

    # -- audit delivery ---------------------------------------------------------------------

    def queue_audit_batch(self) -> str | None:
        """Seal audit lines not yet exported into an ``audit`` item for the receiver."""
        with self._mutex:
            try:
                practice = self._practice_key()
            except NotEnrolledError:
                return None
            offset = int(self.catalog.get_setting("audit_offset", "0") or 0)
            lines: list[bytes] = []
            end = offset
            total = 0
            for end_offset, line in iter_lines(self.paths.audit_log, offset):
                lines.append(line)
                end = end_offset
                total += len(line) + 1
                if total >= AUDIT_BATCH_MAX_BYTES:
                    break
            if not lines:
                return None
            first, last = _seq_of(lines[0]), _seq_of(lines[-1])
            batch_id = uuid7()
            records = b"\n".join(lines) + b"\n"
            chunks = seal_chunks(
                "audit", {"metadata": encode_metadata({
                    "first_seq": first, "last_seq": last, "station_id": self.station_id,
                    "lines": len(lines)}), "records": records},
                recipients=[("practice", practice)], station_id=self.station_id,
                item_id=batch_id)
            file, size, sha = self._write_sealed(batch_id, chunks)
            now = self.clock()

            def rows(db: Any) -> None:
                insert_item(db, item_id=batch_id, kind="audit", capture_id=None, file=file,
                            size=size, sha256=sha, created_at=now)
                self.catalog.set_setting(db, "audit_offset", str(end))

            self._commit(file, rows)
            return batch_id

    def tick(self, now: float | None = None) -> dict[str, Any]:
        """Periodic upkeep (call every minute or so): shred what is due, export audit lines."""
        shredded = self.shred_due(now)
        batch = self.queue_audit_batch()
        return {"shredded": shredded, "audit_batch": batch}

    # -- the Outbox interface for the uploader ------------------------------------------------

    def lease_next(self, lease_seconds: float | None = None) -> OutboxItem | None:
        """Oldest due item -> ``sending`` with a lease. Amendments wait for their capture."""
        now = self.clock()
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        with self.catalog.transaction() as db:
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
            row = rows[0]
            db.execute("UPDATE items SET state = 'sending', lease_until = ?, "
                       "attempts = attempts + 1 WHERE item_id = ?", (now + lease, row["item_id"]))
        path = self._path(row["file"])
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
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sha256 = digest.hexdigest()
        with self.catalog.transaction() as db:
            db.execute("UPDATE items SET sha256 = ? WHERE item_id = ? AND sha256 = ?",
                       (sha256, item_id, UNHASHED))
        return sha256

    def open_sealed(self, item: OutboxItem) -> BinaryIO:
        return open(item.path, "rb")

    def _settle(self, item_id: str, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._mutex:
            item = self.catalog.item(item_id)
            if item is None:
                raise UnknownCaptureError(item_id)
            with self.catalog.transaction() as db:
                db.execute(sql, (*params, item_id))
            item = self.catalog.item(item_id)
            if item is not None and item["file"] is not None and self._discarded(item):
                self._shred(item_id, item["file"], audit=False)
            return item

    def mark_delivered(self, item_id: str, receipt: bytes) -> None:
        """A verified receipt arrived. Repeats are harmless (the first delivery time stays)."""
        item = self.catalog.item(item_id)
        if item is None:
            raise UnknownCaptureError(item_id)
        if item["state"] == "delivered":
            return
        self._settle(item_id, "UPDATE items SET state = 'delivered', delivered_at = ?, "
                     "receipt = ?, lease_until = NULL, reason = NULL WHERE item_id = ?",
                     (self.clock(), bytes(receipt)))
        if item["kind"] != "audit":
            self._audit("item.delivered", item_id=item_id, kind=item["kind"])

    def mark_rejected(self, item_id: str, reason: str) -> None:
        """The receiver refused the item for good; it stays (sealed) for an administrator."""
        self._settle(item_id, "UPDATE items SET state = 'rejected', reason = ?, "
                     "lease_until = NULL WHERE item_id = ?", (str(reason)[:200],))
        self._audit("item.rejected", item_id=item_id, reason=str(reason)[:200])

    def release(self, item_id: str, retry_at: float) -> None:
        """A failed attempt: back to ``queued`` (or out of the outbox if discarded meanwhile)."""
        item = self.catalog.item(item_id)
        if item is None:
            raise UnknownCaptureError(item_id)
        if item["state"] != "sending":
            return
        if self._discarded(item):
            self._settle(item_id, "UPDATE items SET state = 'discarded', lease_until = NULL "
                         "WHERE item_id = ?", ())
            return
        self._settle(item_id, "UPDATE items SET state = 'queued', retry_at = ?, "
                     "lease_until = NULL WHERE item_id = ?", (float(retry_at),))

    def pending_count(self) -> int:
        placeholders = ", ".join("?" for _ in PENDING)
        rows = self.catalog.query(
            f"SELECT COUNT(*) AS n FROM items WHERE state IN ({placeholders}) "  # noqa: S608
            "AND file IS NOT NULL", PENDING)
        return int(rows[0]["n"])

    def counts(self) -> dict[str, int]:
        """Items per state (for the UI and doctor)."""
        rows = self.catalog.query("SELECT state, COUNT(*) AS n FROM items GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}


def _seq_of(line: bytes) -> int | None:
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError):
        return None
