"""Durable file writes for the receiver: a power cut leaves the old file or the new one.

The receiver promises in a signed receipt that an item is stored; that promise is only true
if the bytes and the directory entry reached the disk first. (``sync`` never imports the
station's ``appliance`` package, so it keeps its own copy of this small discipline.)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes, mode: int = 0o640, *,
                  replace: bool = True, sync_dir: bool = True) -> None:
    """temp file beside ``path`` -> write -> fsync -> rename -> fsync the directory.

    ``replace=False`` never overwrites: the temp file is hard-linked into place, so an
    existing ``path`` raises FileExistsError and is left alone. ``sync_dir=False`` leaves the
    directory fsync to a caller that writes several files into one directory.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            finally:
                tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def move_durably(src: Path, dst: Path) -> None:
    """Rename an already-fsynced file into place and make the rename itself durable."""
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)
