"""Audit lines leave the station sealed: batches queued in the outbox for the receiver.

Cutting lines off the end of the local log cannot be seen locally; the receiver, which gets
every line in order, holds the chain head. ``settings.audit_offset`` is where the next batch
starts; it moves in the same transaction that queues the batch.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from sync.audit import iter_lines

from ..enrolment import NotEnrolledError
from .catalog import set_setting
from .context import VaultContext
from .ids import uuid7
from .queueing import queue_sealed

AUDIT_BATCH_MAX_BYTES = 512 * 1024
_OFFSET = "audit_offset"


def queue_audit_batch(ctx: VaultContext) -> str | None:
    """Seal audit lines not yet exported into an ``audit`` item for the receiver; its id, or
    None when there is nothing new or the station is not enrolled yet."""
    with ctx.mutex:
        try:
            practice = ctx.practice_key()
        except NotEnrolledError:
            return None
        offset = int(ctx.catalog.get_setting(_OFFSET, "0") or 0)
        lines: list[bytes] = []
        end = offset
        total = 0
        for end_offset, line in iter_lines(ctx.paths.audit_log, offset):
            lines.append(line)
            end = end_offset
            total += len(line) + 1
            if total >= AUDIT_BATCH_MAX_BYTES:
                break
        if not lines:
            return None
        batch_id = uuid7()
        metadata = {"station_id": ctx.station_id, "first_seq": _seq_of(lines[0]),
                    "last_seq": _seq_of(lines[-1]), "lines": len(lines)}

        def move_offset(db: Database) -> None:
            set_setting(db, _OFFSET, str(end))

        queue_sealed(ctx, kind="audit", item_id=batch_id, capture_id=None, metadata=metadata,
                     parts={"records": b"\n".join(lines) + b"\n"}, recipients=[practice],
                     also=move_offset)
        return batch_id


def _seq_of(line: bytes) -> int | None:
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError):
        return None
