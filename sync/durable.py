"""The one durable-write discipline of the project: a power cut leaves the old file or the new.

Every file that must survive a crash (sealed captures, keys, enrolment, configuration written
by provisioning, filed captures, receipts' backing files) goes through this module, on the
station and at the practice alike (``sync`` is the package both import):

    temp file beside the target (``.<name>.<pid>.<random>.tmp``, created ``O_EXCL``)
    -> write -> fsync -> rename (or link, to never replace) -> fsync the directory.

The directory fsync is what makes the new name itself durable; it is always done (a caller
writing several files into one directory may defer it with ``sync_dir=False`` and call
:func:`fsync_dir` once). The temp name starts with a dot and ends in :data:`TEMP_SUFFIX`, so a
directory listing never shows it as a finished file and :func:`is_temp_name` lets start-up
code remove what a crash left behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

__all__ = [
    "TEMP_SUFFIX",
    "DurableFile",
    "fsync_dir",
    "is_temp_name",
    "move_durably",
    "remove_durably",
    "temp_path_for",
    "write_durably",
]

TEMP_SUFFIX = ".tmp"


def temp_path_for(path: Path) -> Path:
    """The temp name a durable write of ``path`` uses: hidden, unique, same directory."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """True for a name :func:`temp_path_for` makes (what a crash may leave behind)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def fsync_dir(directory: Path) -> None:
    """Make the entries of ``directory`` (a rename, a link, an unlink) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DurableFile:
    """A file written in pieces that appears under its name only once complete and on disk.

    ::

        with DurableFile(path, mode=0o600, replace=False) as out:
            for chunk in chunks:
                out.write(chunk)
        # here: fsynced, linked to ``path``, directory fsynced

    Leaving the block by an exception removes the temp file and leaves ``path`` untouched.
    ``replace=False`` never overwrites: an existing ``path`` raises ``FileExistsError`` at
    commit (the temp file is hard-linked into place, which refuses an existing name).
    """

    def __init__(self, path: Path, mode: int = 0o600, *, replace: bool = True,
                 sync_dir: bool = True) -> None:
        self.path = Path(path)
        self.tmp = temp_path_for(self.path)
        self._replace = replace
        self._sync_dir = sync_dir
        self._fd: int | None = os.open(
            self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        self.size = 0
        self._synced_size = -1

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` (short writes are retried)."""
        if self._fd is None:
            raise ValueError(f"{self.path.name}: write after commit or abort")
        view = memoryview(data).cast("B")
        self.size += view.nbytes
        while view:
            view = view[os.write(self._fd, view):]

    def fileno(self) -> int:
        """The temp file's descriptor, for a writer that places bytes itself (``os.pwrite``)."""
        if self._fd is None:
            raise ValueError(f"{self.path.name}: already committed or aborted")
        return self._fd

    def sync(self) -> None:
        """fsync now (a caller may overlap this with other work); :meth:`commit` then only
        fsyncs again if more was written since."""
        os.fsync(self.fileno())
        self._synced_size = self.size

    def commit(self) -> None:
        """fsync, give the file its name, fsync the directory."""
        if self._fd is None:
            raise ValueError(f"{self.path.name}: already committed or aborted")
        fd, self._fd = self._fd, None
        try:
            if self._synced_size != self.size:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if self._replace:
                os.replace(self.tmp, self.path)
            else:
                os.link(self.tmp, self.path)
                self.tmp.unlink()
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        if self._sync_dir:
            fsync_dir(self.path.parent)

    def abort(self) -> None:
        """Drop the temp file; ``path`` is untouched. Safe to call more than once."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> DurableFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def write_durably(path: Path, data: bytes | Iterable[bytes], mode: int = 0o600, *,
                  replace: bool = True, sync_dir: bool = True) -> None:
    """Durably write ``data`` (bytes, or an iterable of chunks) to ``path``; see the module doc.

    ``replace=False`` never overwrites (``FileExistsError``); ``sync_dir=False`` leaves the
    directory fsync to a caller that writes several files into one directory.
    """
    chunks = (data,) if isinstance(data, bytes | bytearray | memoryview) else data
    with DurableFile(Path(path), mode, replace=replace, sync_dir=sync_dir) as out:
        for chunk in chunks:
            out.write(chunk)


def move_durably(src: Path, dst: Path) -> None:
    """Rename an already-durable file into place and make the rename itself durable."""
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def remove_durably(path: Path) -> bool:
    """Delete ``path`` and fsync its directory; False if it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
