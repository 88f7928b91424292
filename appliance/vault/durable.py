"""Sealed files written durably, with a full disk reported as :class:`DiskFullError`.

The discipline itself (temp file beside the target, fsync, link so that nothing is ever
replaced, directory fsync) is :class:`sync.durable.DurableFile`; this module adds what the
vault needs on top: ENOSPC/EDQUOT become :class:`DiskFullError` with nothing left behind, and
a sealed capture is written *while* it is being sealed.

A sealed capture is written by :class:`WriteBehindFile`: the sealer fills a reused buffer and
each sealed stretch is written with ``pwrite`` into the :class:`~sync.durable.DurableFile`'s
descriptor (and its write-back started with ``posix_fadvise(DONTNEED)``, which starts it
without waiting) while the next one is being encrypted, so the closing fsync finds less left
to do. That is a head start only: durability still comes from the fsync. Amendments and audit
batches (small) go through :func:`write_new`.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from sync.durable import DurableFile

from .errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Start write-back after this many new bytes (see the module doc).
WRITEBACK_BYTES = 1 << 20
_fadvise = getattr(os, "posix_fadvise", None)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    if _fadvise is not None:
        try:
            _fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass  # only a hint; the fsync is what makes the data durable


def _new_file(path: Path) -> DurableFile:
    """A temp file (mode 0600) that will be linked to ``path`` and never replace it."""
    try:
        return DurableFile(path, 0o600, replace=False)
    except OSError as exc:
        raise _disk_error(exc) from None


def write_new(path: Path, chunks: Iterable[bytes | memoryview]) -> int:
    """Durably create ``path`` with the concatenation of ``chunks``; returns its size.

    Never replaces a file (``FileExistsError``). ``chunks`` may be a generator that encrypts
    lazily. Raises DiskFullError on a full disk; nothing is left behind after an error.
    """
    out = _new_file(path)
    try:
        with out:
            for chunk in chunks:
                out.write(chunk)
    except OSError as exc:
        raise _disk_error(exc) from None
    return out.size


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a sealed file, read a megabyte at a time (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    they are final and handed to the kernel for write-back at once (see the module doc),
    so the disk works while the next stretch is sealed; the pages before the stretch (the
    header) and after it are written last. :meth:`commit` fsyncs (unless :meth:`sync` did)
    and links the file into place; leaving the ``with`` block without a commit removes
    everything. A power cut leaves no file or the whole one.
    """

    def __init__(self, path: Path, size: int, buffer: AlignedBuffer) -> None:
        self.path = path
        self.size = size
        self.buffer = buffer.view(size)
        self._stretch_start: int | None = None
        self._front = 0  # pages before this hold the header: written at the end
        self._done = 0   # the stretch's pages from _front up to here are written
        self._complete = False
        self._file = _new_file(path)

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
                _start_writeback(self._file.fileno(), self._done, end - self._done)
                self._done = end
        except OSError as exc:
            raise _disk_error(exc) from None

    def _write(self, start: int, end: int) -> None:
        view = self.buffer[start:end]
        offset = start
        fd = self._file.fileno()
        while view:
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n

    def sync(self) -> None:
        """Make the complete contents durable (still under the temp name): a caller that has
        one more check to wait for can let the disk finish meanwhile. Raises DiskFullError."""
        if not self._complete:
            raise RuntimeError("the file was synced before it was complete")
        try:
            self._file.sync()
        except OSError as exc:
            raise _disk_error(exc) from None

    def commit(self) -> int:
        """Make the file durable under its name once everything was :meth:`ready`; returns
        its size. Raises DiskFullError on a full disk."""
        if not self._complete:
            raise RuntimeError("the file was committed before it was complete")
        try:
            self._file.commit()  # fsyncs only if sync() did not
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
        self._file.abort()


def _disk_error(exc: OSError) -> OSError | DiskFullError:
    if exc.errno in _FULL:
        return DiskFullError("disk full while writing a sealed file")
    return exc
