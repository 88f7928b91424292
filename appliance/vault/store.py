"""Storing a capture or a scanned document: seal, write durably, queue -- before the operator
moves on.

A capture is sealed to the practice key (from enrolment) and to this start's review key
(memory only), so the review UI can show this start's captures and nothing on disk opens after
a restart; the station's identity key signs it. The calling thread does it all, in order
(:mod:`.sealing`): the sealed file is durable, then its row commits, then its audit line.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
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
from .sealing import seal_capture_file, write_sealed

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
        if not isinstance(jpeg, bytes | bytearray | memoryview):
            raise VaultError("a capture is JPEG bytes")
        original = bytes(jpeg)

        def seal(path: Path, meta: dict[str, Any], recipients: list[Any]) -> int:
            return seal_capture_file(path, original, meta, preview=preview,
                                     recipients=recipients,
                                     station_key=self.ctx.identity.private_key,
                                     capture_id=meta["capture_id"])

        # Stripping only makes the image smaller; the margin holds header and preview.
        return self._store("capture", metadata, len(original) + len(preview or b""), seal)

    def store_document(self, pdf: bytes, metadata: Mapping[str, Any], *,
                       preview: bytes) -> CaptureRecord:
        """Seal a scanned document (``kind: document``: the PDF of its pages and a preview
        JPEG of page 1) with ``metadata`` (a capture's keys plus ``pages`` and
        ``document_type``) and queue it, durably. Same ids, errors and guarantees as
        :meth:`store_capture`; a document is then listed, reviewed and discarded like one."""
        if not isinstance(pdf, bytes | bytearray) or not bytes(pdf[:5]) == b"%PDF-":
            raise VaultError("a document is PDF bytes")
        parts = {"pdf": bytes(pdf), "preview": bytes(preview)}

        def seal(path: Path, meta: dict[str, Any], recipients: list[Any]) -> int:
            return write_sealed(path, "document", meta, parts, recipients=recipients,
                                station_key=self.ctx.identity.private_key,
                                item_id=meta["capture_id"])

        return self._store("document", metadata, len(parts["pdf"]) + len(preview), seal)

    def _store(self, kind: str, metadata: Mapping[str, Any], size: int,
               seal: Callable[[Path, dict[str, Any], list[Any]], int]) -> CaptureRecord:
        try:
            return self._seal_and_queue(kind, metadata, size, seal)
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

    def _seal_and_queue(self, kind: str, metadata: Mapping[str, Any], size: int,
                        seal: Callable[[Path, dict[str, Any], list[Any]], int]) -> CaptureRecord:
        ctx = self.ctx
        practice = ctx.practice_key()
        self._check_reserve(size + WRITE_MARGIN)
        capture_id = uuid7()
        meta = dict(metadata)
        meta.update(station_id=ctx.station_id, capture_id=capture_id)
        meta.setdefault("captured_at", ctx.now_iso())
        patient = meta.get("patient_id")
        pseudonym = ctx.keys.pseudonyms.patient(meta.get("issuer"), str(patient)) \
            if patient else None
        file = ctx.file_for(capture_id)
        try:
            size = seal(ctx.path(file), meta, [practice, ctx.keys.review_public])
        except EnvelopeError as exc:
            raise VaultError(f"{kind} cannot be sealed: {exc}") from None
        now = ctx.clock()

        def rows(db: Database) -> None:
            # The digest waits for the first lease: see queueing.queue_sealed.
            insert_item(db, item_id=capture_id, kind=kind, capture_id=capture_id,
                        file=file, size=size, sha256=UNHASHED, created_at=now)
            insert_capture(db, capture_id=capture_id, created_at=now, pseudonym=pseudonym,
                           review_kid=ctx.keys.review_kid)

        # After the commit: a "stored" line never names a capture that is not kept (a crash
        # before it leaves a kept capture without its line, never the reverse).
        commit_rows(ctx.catalog, ctx.path(file), rows)
        fields: dict[str, Any] = {"pages": meta.get("pages")} if kind == "document" else {}
        ctx.audit_quietly(f"{kind}.stored", capture_id=capture_id, pseudonym=pseudonym,
                          size=size, operator=meta.get("operator"), **fields)
        return CaptureRecord(capture_id, now, pseudonym, size)
