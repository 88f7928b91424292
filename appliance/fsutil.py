"""Durable file writes for the station: a power cut leaves either the old file or the new one.

temp file in the same directory -> write -> fsync -> rename over the target -> fsync the
directory (so the rename itself survives). The discipline lives in :mod:`sync.durable`, shared
with the receiver (``sync`` cannot import ``appliance``, the reverse is fine); the station's
default is owner-only permissions.
"""

from __future__ import annotations

import os
from pathlib import Path

from sync.durable import fsync_dir, write_durably

__all__ = ["TEMP_SUFFIX", "atomic_write", "fsync_dir"]

TEMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` durably and atomically with permissions ``mode``."""
    write_durably(Path(path), data, mode)
