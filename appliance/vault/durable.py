"""Crash-safe file creation and removal for sealed files.

Create: temp file in the same directory (``.<name>.<pid>.<random>.tmp``, mode 0600) -> write
(``os.writev`` of the envelope's chunks, no joined copy) -> fsync -> rename -> fsync the
directory. After a power cut the name either does not exist or holds the complete file; a temp
file left behind is removed by start-up recovery. A full disk raises :class:`DiskFullError`
and leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from ..fsutil import TEMP_SUFFIX, fsync_dir
from .errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _writev_all(fd: int, chunks: Sequence[bytes | memoryview]) -> None:
    views = [memoryview(c).cast("B") for c in chunks if len(c)]
    while views:
        written = os.writev(fd, views[:1024])
        while written and views:
            if written >= len(views[0]):
                written -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][written:]
                written = 0


def write_new(path: Path, chunks: Sequence[bytes | memoryview]) -> None:
    """Durably create ``path`` with the concatenation of ``chunks``; never replaces a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _writev_all(fd, chunks)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # like rename, but refuses to replace an existing file
        os.unlink(tmp)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _FULL:
            raise DiskFullError("disk full while writing a sealed file") from None
        raise


def remove(path: Path) -> bool:
    """Durably delete ``path``; False if it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
