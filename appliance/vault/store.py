"""Storing a capture: strip, seal, write durably, queue -- before the operator moves on.

A capture is sealed to the practice key (from enrolment) and to this start's review key
(memory only), so the review UI can show this start's captures and nothing on disk opens after
a restart; the station's identity key signs it. The calling thread does it all, in order
(:mod:`.sealing`): the sealed file is durable, then its row commits, then its audit line.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from sync.envelope import EnvelopeError

from ..enrolment import NotEnrolledError
from .catalog import UNHASHED, insert_capture, insert_item
from .context import VaultContext
from .errors import DiskFullError, VaultError
from .ids import uuid7
from .queueing import commit_rows
from .records import CaptureRecord
from .sealing import seal_capture_file

MIB = 1024 * 1024
#: Room for the envelope header, the preview and the database beyond the image itself.
WRITE_MARGIN = 256 * 1024


class CaptureStore:
    """Seals and queues captures."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def store_capture(self, jpeg: bytes, metadata: Mapping[str, Any], *,
                      preview: bytes | None = None) -> CaptureRecord:
        """Seal ``jpeg`` (identifying EXIF removed) with ``metadata`` and queue it, durably.

        ``metadata`` holds the capture's keys of the envelope's metadata table
        (:data:`sync.envelope.METADATA_FIELDS`); the vault sets ``station_id`` and
        ``capture_id`` and, if missing, ``captured_at``. Raises NotEnrolledError (no practice
        key yet), DiskFullError (below the reserve or out of space) or VaultError; in every
        case nothing new is left on disk (the failure is audited as ``error.capture_failed``
        with the error's type only).
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
        # Stripping only makes the image smaller; the margin holds header and preview.
        self._check_reserve(len(original) + len(preview or b"") + WRITE_MARGIN)
        capture_id = uuid7()
        meta = dict(metadata)
        meta.update(station_id=ctx.station_id, capture_id=capture_id)
        meta.setdefault("captured_at", ctx.now_iso())
        patient = meta.get("patient_id")
        pseudonym = ctx.keys.pseudonyms.patient(meta.get("issuer"), str(patient)) \
            if patient else None
        file = ctx.file_for(capture_id)
        try:
            size = seal_capture_file(
                ctx.path(file), original, meta, preview=preview,
                recipients=[practice, ctx.keys.review_public],
                station_key=ctx.identity.private_key, capture_id=capture_id)
        except EnvelopeError as exc:
            raise VaultError(f"capture cannot be sealed: {exc}") from None
        now = ctx.clock()

        def rows(db: Database) -> None:
            # The digest waits for the first lease: see queueing.queue_sealed.
            insert_item(db, item_id=capture_id, kind="capture", capture_id=capture_id,
                        file=file, size=size, sha256=UNHASHED, created_at=now)
            insert_capture(db, capture_id=capture_id, created_at=now, pseudonym=pseudonym,
                           review_kid=ctx.keys.review_kid)

        # After the commit: a "stored" line never names a capture that is not kept (a crash
        # before it leaves a kept capture without its line, never the reverse).
        commit_rows(ctx.catalog, ctx.path(file), rows)
        ctx.audit_quietly("capture.stored", capture_id=capture_id, pseudonym=pseudonym,
                          size=size, operator=meta.get("operator"))
        return CaptureRecord(capture_id, now, pseudonym, size)
