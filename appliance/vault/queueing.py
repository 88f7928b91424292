"""Put a freshly sealed file into the outbox: its rows commit, or the file goes again.

Order matters for crash safety (see :mod:`.recovery`): the sealed file is durable first, then
its catalog rows commit; if the commit fails the file is removed, so the vault never holds a
file it does not know about (a crash in between is what start-up recovery adopts).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlite_utils import Database

from sync.durable import remove_durably

from .catalog import UNHASHED, Catalog, insert_item
from .context import VaultContext
from .errors import DiskFullError, VaultError
from .sealing import write_sealed

Rows = Callable[[Database], None]


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower()


def commit_rows(catalog: Catalog, path: Path, rows: Rows) -> None:
    """Run the inserts for the freshly written ``path`` in one transaction; on failure the
    file is removed again (a full database is a DiskFullError, any refusal a VaultError)."""
    try:
        with catalog.transaction() as db:
            rows(db)
    except sqlite3.Error as exc:
        remove_durably(path)
        if _is_full(exc):
            raise DiskFullError("disk full: the catalog could not grow") from None
        raise VaultError(f"the catalog refused the item ({type(exc).__name__})") from None
    except BaseException:
        remove_durably(path)
        raise


def queue_sealed(ctx: VaultContext, *, kind: str, item_id: str, capture_id: str | None,
                 metadata: Mapping[str, Any], parts: Mapping[str, bytes],
                 recipients: Sequence[X25519PublicKey], subject: str | None = None,
                 also: Rows | None = None) -> None:
    """Seal a small item (an amendment, an audit batch) into its file and queue it; ``also``
    runs in the same transaction as its outbox row. Raises EnvelopeError, DiskFullError.

    The item is queued with sha256 :data:`~.catalog.UNHASHED`: the transfer digest is not
    needed to make it safe, only to send it, so the outbox computes it at the first lease on
    the uploader's thread instead of making the operator wait for it.
    """
    file = ctx.file_for(item_id)
    size = write_sealed(ctx.path(file), kind, metadata, parts, recipients=recipients,
                        station_key=ctx.identity.private_key, item_id=item_id,
                        subject=subject)
    now = ctx.clock()

    def rows(db: Database) -> None:
        insert_item(db, item_id=item_id, kind=kind, capture_id=capture_id, file=file,
                    size=size, sha256=UNHASHED, created_at=now)
        if also is not None:
            also(db)

    commit_rows(ctx.catalog, ctx.path(file), rows)
