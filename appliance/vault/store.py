"""Storing a capture: strip, seal in memory, write durably, queue -- before the operator moves on.

A capture is sealed to the practice key (from enrolment) and to this start's review key
(memory only), so the review UI can show this start's captures and nothing on disk opens after
a restart. It is sealed and written by the calling thread while a ``vault-seal`` worker checks
its image data (:mod:`.sealing`); after the file is durable, its audit line is written there
while the row commits.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlite_utils import Database

from sync.envelope import EnvelopeError, encode_metadata

from ..enrolment import NotEnrolledError
from .catalog import UNHASHED, insert_capture, insert_item
from .context import VaultContext
from .durable import AlignedBuffer
from .errors import DiskFullError, VaultError
from .exif import strip_identifying_metadata, strip_plan
from .ids import uuid7
from .preview import make_preview
from .queueing import commit_rows
from .records import CaptureRecord
from .sealing import WORKER_THREADS, seal_capture_file

MIB = 1024 * 1024
#: Room for the envelope header, the preview and the database beyond the image itself.
WRITE_MARGIN = 256 * 1024


class CaptureStore:
    """Seals and queues captures; owns the sealing worker and the reused seal buffer."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        #: Checks, encrypts and writes a capture alongside the capture thread (see .sealing).
        self.sealer = ThreadPoolExecutor(max_workers=WORKER_THREADS,
                                         thread_name_prefix="vault-seal")
        #: Sealed captures are built here; one at a time (the lock), faulted in once.
        self.seal_buffer = AlignedBuffer()
        self._seal_lock = threading.Lock()

    def close(self) -> None:
        self.sealer.shutdown(wait=True)
        with self._seal_lock:
            self.seal_buffer.close()

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
            self.ctx.audit_quietly("error.capture_failed", error=type(exc).__name__)
            raise

    def _check_reserve(self, needed: int) -> None:
        reserve = self.ctx.policy.reserve_bytes
        try:
            free = shutil.disk_usage(self.ctx.paths.root).free
        except OSError as exc:
            raise VaultError(f"cannot check free space ({exc.strerror})") from None
        if free - needed < reserve:
            raise DiskFullError(
                f"disk full: {free // MIB} MB free, {reserve // MIB} MB kept in "
                "reserve; deliver or shred captures to make room")

    def _store_capture(self, jpeg: bytes, metadata: Mapping[str, Any],
                       preview: bytes | None) -> CaptureRecord:
        ctx = self.ctx
        practice = ctx.practice_key()
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
        meta.setdefault("station_id", ctx.station_id)
        meta["capture_id"] = capture_id
        patient = meta.get("patient_id")
        pseudonym = ctx.keys.pseudonyms.patient(meta.get("issuer"), str(patient)) \
            if patient else None
        try:
            encoded = encode_metadata(meta)
        except EnvelopeError as exc:
            raise VaultError(f"capture metadata cannot be stored: {exc}") from None
        file = ctx.file_for(capture_id)
        try:
            with self._seal_lock:
                size = seal_capture_file(
                    original, path=ctx.path(file), metadata=encoded, preview=small,
                    recipients=[("practice", practice), ("review", ctx.keys.review_public)],
                    station_id=ctx.station_id, item_id=capture_id, worker=self.sealer,
                    buffer=self.seal_buffer)
        except EnvelopeError as exc:
            raise VaultError(f"capture cannot be sealed: {exc}") from None
        now = ctx.clock()

        def rows(db: Database) -> None:
            # The digest waits for the first lease: see queueing.queue_sealed.
            insert_item(db, item_id=capture_id, kind="capture", capture_id=capture_id,
                        file=file, size=size, sha256=UNHASHED, created_at=now)
            insert_capture(db, capture_id=capture_id, created_at=now, pseudonym=pseudonym,
                           review_kid=ctx.keys.review_kid)

        # The file is durable: its row and its audit line are independent fsyncs, so the audit
        # line is written on the sealing thread while this one commits. Either may land first
        # in a crash; a durable file whose row never committed is adopted at start-up
        # (recovery.adopted), so a "stored" line never names a capture that is not kept.
        stored = self.sealer.submit(
            ctx.audit_quietly, "capture.stored", capture_id=capture_id, pseudonym=pseudonym,
            size=size, operator=meta.get("operator"))
        try:
            commit_rows(ctx.catalog, ctx.path(file), rows)
        except BaseException:
            stored.result()
            ctx.audit_quietly("capture.withdrawn", capture_id=capture_id)  # the file is gone
            raise
        stored.result()
        return CaptureRecord(capture_id, now, pseudonym, size)
