"""Crash-safe file creation and removal for sealed files.

Create: temp file in the same directory (``.<name>.<pid>.<random>.tmp``, mode 0600) -> write
the envelope's chunks as they come (an iterable: a generator may still be encrypting) -> fsync
-> link to the final name -> unlink the temp name -> fsync the directory. After a power cut
the name either does not exist or holds the complete file; a temp file left behind is
removed by start-up recovery. A full disk raises :class:`DiskFullError` and leaves nothing
behind.

Each written megabyte is handed to the kernel for write-back at once
(``posix_fadvise(DONTNEED)`` starts it without waiting), so the disk works while the next
megabyte is copied in, and the closing fsync finds less left to do. That is a head start only:
durability still comes from the fsync.

A sealed capture is written by :class:`WriteBehindFile`: the sealer fills a reused buffer and
each sealed stretch is written (and its write-back started) while the next one is being
encrypted; the temp -> fsync -> link -> directory fsync steps are the same. Amendments and
audit batches (small) go through :func:`write_new`.
"""

from __future__ import annotations

import errno
import mmap
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from ..fsutil import TEMP_SUFFIX, fsync_dir
from .errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Start write-back after this many new bytes (see the module doc).
WRITEBACK_BYTES = 1 << 20
_fadvise = getattr(os, "posix_fadvise", None)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _write_all(fd: int, chunk: bytes | memoryview) -> None:
    view = memoryview(chunk).cast("B")
    while view:
        view = view[os.write(fd, view):]


def _start_writeback(fd: int, offset: int, length: int) -> None:
    if _fadvise is not None:
        try:
            _fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass  # only a hint; the fsync below is what makes the data durable


def _temp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _publish(tmp: Path, path: Path) -> None:
    """Give the fsynced temp file its final name, durably; never replaces a file."""
    os.link(tmp, path)  # like rename, but refuses to replace an existing file
    os.unlink(tmp)
    fsync_dir(path.parent)


def write_new(path: Path, chunks: Iterable[bytes | memoryview],
              on_chunk: Callable[[bytes | memoryview], None] | None = None) -> None:
    """Durably create ``path`` with the concatenation of ``chunks``; never replaces a file.

    ``chunks`` may be a generator that encrypts lazily; ``on_chunk`` sees each chunk once it
    is written (the vault hashes them on another core meanwhile).
    """
    tmp = _temp_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            written = flushed = 0
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                for start in range(0, len(view), WRITEBACK_BYTES):  # big chunks in slices
                    _write_all(fd, view[start: start + WRITEBACK_BYTES])
                    written += min(WRITEBACK_BYTES, len(view) - start)
                    if written - flushed >= WRITEBACK_BYTES:
                        _start_writeback(fd, flushed, written - flushed)
                        flushed = written
                if on_chunk is not None:
                    on_chunk(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        _publish(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _FULL:
            raise _disk_error(exc) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove(path: Path) -> bool:
    """Durably delete ``path``; False if it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


#: Sealed files are written in whole pages (the first page, which holds the header, last).
PAGE = mmap.PAGESIZE


def _align_up(n: int) -> int:
    return -(-n // PAGE) * PAGE


def _align_down(n: int) -> int:
    return n // PAGE * PAGE


class AlignedBuffer:
    """Page-aligned scratch memory reused from one sealed file to the next.

    Fresh memory for every 5 MB capture would cost a page fault per 4 KiB on first touch
    (about as long as encrypting it); this buffer is faulted in once and then kept. It only
    ever holds ciphertext. Not thread-safe: one file at a time (the vault holds a lock).
    """

    def __init__(self) -> None:
        self._map: mmap.mmap | None = None

    def view(self, size: int) -> memoryview:
        """``size`` rounded up to whole pages of the buffer, grown if needed."""
        wanted = _align_up(max(size, 1))
        if self._map is None or len(self._map) < wanted:
            # The old mapping goes once no view of it is left (a file may still hold one).
            self._map = mmap.mmap(-1, wanted)
        return memoryview(self._map)[:wanted]

    def close(self) -> None:
        """Let the memory go (as soon as no view of it is left)."""
        self._map = None


class WriteBehindFile:
    """A new file written while it is still being filled in memory.

    The producer fills :attr:`buffer` and reports what is final with :meth:`ready`: one
    stretch that grows (the photo's ciphertext, as it is encrypted), then the whole file
    (``0, size``: the header and the rest). The stretch's whole pages are written as soon as
    they are final and handed to the kernel for write-back at once (see :func:`write_new`),
    so the disk works while the next stretch is sealed; the pages before the stretch (the
    header) and after it are written last. :meth:`commit` fsyncs (unless :meth:`sync` did)
    and links the file into place; leaving the ``with`` block without a commit removes
    everything. A power cut leaves no file or the whole one.
    """

    def __init__(self, path: Path, size: int, buffer: AlignedBuffer) -> None:
        self.path = path
        self.size = size
        self.buffer = buffer.view(size)
        self._tmp = _temp_for(path)
        self._stretch_start: int | None = None
        self._front = 0  # pages before this hold the header: written at the end
        self._done = 0   # the stretch's pages from _front up to here are written
        self._complete = False
        self._published = False
        self._synced = False
        try:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                               0o600)
        except OSError as exc:
            raise _disk_error(exc) from None

    def __enter__(self) -> WriteBehindFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.abort()

    def ready(self, start: int, end: int) -> None:
        """Bytes ``start:end`` of :attr:`buffer` are final: the growing stretch (same
        ``start`` every time) or the whole file (``0, size``). Raises DiskFullError."""
        try:
            if start == 0 and end >= self.size:
                self._write(self._done, self.size)
                self._write(0, self._front)
                self._complete = True
                return
            if self._stretch_start is None:
                self._stretch_start = start
                self._front = self._done = min(_align_up(start), self.size)
            elif start != self._stretch_start:
                raise ValueError("WriteBehindFile takes one growing stretch")
            end = _align_down(end)
            if end > self._done:
                self._write(self._done, end)
                _start_writeback(self._fd, self._done, end - self._done)
                self._done = end
        except OSError as exc:
            raise _disk_error(exc) from None

    def _write(self, start: int, end: int) -> None:
        view = self.buffer[start:end]
        offset = start
        while view:
            n = os.pwrite(self._fd, view, offset)
            view, offset = view[n:], offset + n

    def sync(self) -> None:
        """Make the complete contents durable (still under the temp name): a caller that has
        one more check to wait for can let the disk finish meanwhile. Raises DiskFullError."""
        if not self._complete:
            raise RuntimeError("the file was synced before it was complete")
        if self._synced:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise _disk_error(exc) from None
        self._synced = True

    def commit(self) -> int:
        """Make the file durable under its name once everything was :meth:`ready`; returns
        its size. Raises DiskFullError on a full disk."""
        if not self._complete:
            raise RuntimeError("the file was committed before it was complete")
        try:
            if not self._synced:
                os.fsync(self._fd)
                self._synced = True
            os.close(self._fd)
            self._fd = -1
            _publish(self._tmp, self.path)
            self._published = True
        except OSError as exc:
            self.abort()
            if isinstance(exc, FileExistsError):
                raise
            raise _disk_error(exc) from None
        except BaseException:
            self.abort()
            raise
        return self.size

    def abort(self) -> None:
        """Remove the temp file; harmless after a commit."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._published:
            self._tmp.unlink(missing_ok=True)


def _disk_error(exc: OSError) -> OSError | DiskFullError:
    if exc.errno in _FULL:
        return DiskFullError("disk full while writing a sealed file")
    return exc
