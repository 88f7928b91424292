"""The audit log: who did what, append-only and hash-chained, never a patient identifier.

One implementation for both sides: the station's vault writes its log with it (and seals
batches of lines to the receiver), the practice writes its own (searches, views, downloads,
consent changes, approvals, logins) with it, and both ``audit verify`` commands check it.

One JSON object per line (sorted keys, no spaces)::

    {"event": "capture.stored", "fields": {...}, "hash": H, "prev": P, "seq": n, "ts": T}

``hash`` is the hex SHA-256 of the same object without ``hash`` (compact, sorted keys), and
``prev`` is the previous line's hash (64 zeros for the first), so removing, reordering or
editing any line breaks the chain at that line: ``capture-station audit verify`` names it.
Cutting lines off the end cannot be seen locally; that is why batches of lines are sealed and
delivered to the receiver, which holds the chain head.

Fields are for pseudonyms, capture ids, operators, reasons and counts; keys that name patient
identifiers are refused (:class:`AuditFieldError`), and values must be small scalars.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import SyncError


class AuditFieldError(SyncError, ValueError):
    """A caller tried to log something the audit log must not hold (a programming error,
    hence also a ValueError)."""


GENESIS = "0" * 64
MAX_VALUE_CHARS = 500
_EVENT_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_LINE_KEYS = {"event", "fields", "hash", "prev", "seq", "ts"}
#: Field names that would put a patient identifier into the log.
FORBIDDEN_FIELDS = frozenset({
    "patient", "patient_id", "patient_name", "mrn", "name", "encounter", "birth_date", "dob",
    "gsrn", "wristband", "barcode", "symbol", "text",
})


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(entry: dict[str, Any]) -> str:
    """The hash of a line: SHA-256 over the canonical JSON of everything except ``hash``."""
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _check_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AuditFieldError(f"audit field {key!r} must be a finite number")
        return value
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, list | tuple):
        return [_check_value(key, v) for v in value][:50]
    raise AuditFieldError(f"audit field {key!r} must be a string, number, bool or list")


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    clean = {}
    for key, value in fields.items():
        if key.lower() in FORBIDDEN_FIELDS:
            raise AuditFieldError(
                f"audit field {key!r} could hold a patient identifier; log a pseudonym instead")
        clean[key] = _check_value(key, value)
    return clean


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    head: str  # hash of the last good record (GENESIS when empty)
    line: int | None = None  # 1-based line number of the first problem
    problem: str = ""


class AuditLog:
    """Append records to ``path``; safe across threads and processes (``flock`` per append)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True,
                 clock: Any = time.time) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                           0o600)
        self._size = -1
        self._seq = 0
        self._head = GENESIS
        self.repaired_bytes = 0
        with self._locked():
            self.repaired_bytes = self._repair_torn_tail()
        if self.repaired_bytes:
            try:
                self.record("audit.tail_repaired", dropped_bytes=self.repaired_bytes)
            except OSError:
                pass  # a full disk; the repair itself is done and verify will pass

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event; returns the written entry (with its ``seq`` and ``hash``)."""
        if not isinstance(event, str) or not _EVENT_RE.fullmatch(event):
            raise AuditFieldError("audit event names are lowercase words joined by . _ -")
        clean = clean_fields(fields)
        stamp = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")
        with self._locked():
            entry = {"event": event, "fields": clean, "prev": self._head,
                     "seq": self._seq + 1, "ts": stamp.replace("+00:00", "Z")}
            entry["hash"] = record_hash(entry)
            line = _canonical(entry) + b"\n"
            try:
                if os.write(self._fd, line) != len(line):
                    raise OSError(errno.ENOSPC, "short write to the audit log")
                if self._fsync:
                    os.fsync(self._fd)
            except OSError:
                os.ftruncate(self._fd, self._size)  # never leave half a line behind
                raise
            self._seq, self._head = entry["seq"], entry["hash"]
            self._size += len(line)
        return entry

    def verify(self) -> VerifyResult:
        """Check this log's whole chain (see :func:`verify`)."""
        return verify(self.path)

    def tail(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` records, oldest first."""
        return tail(self.path, limit)

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record this process knows of."""
        return self._seq, self._head

    # -- internals --------------------------------------------------------------------------

    class _Guard:
        def __init__(self, log: AuditLog) -> None:
            self.log = log

        def __enter__(self) -> None:
            self.log._lock.acquire()
            try:
                if self.log._fd < 0:
                    raise ValueError("audit log is closed")
                fcntl.flock(self.log._fd, fcntl.LOCK_EX)
                size = os.fstat(self.log._fd).st_size
                if size != self.log._size:  # another process appended: find the new head
                    self.log._load_head(size)
            except BaseException:
                self.log._lock.release()
                raise

        def __exit__(self, *exc: object) -> None:
            try:
                fcntl.flock(self.log._fd, fcntl.LOCK_UN)
            finally:
                self.log._lock.release()

    def _locked(self) -> AuditLog._Guard:
        return AuditLog._Guard(self)

    def _load_head(self, size: int) -> None:
        self._size = size
        last = _last_line(self._fd, size)
        if last is None:
            self._seq, self._head = 0, GENESIS
            return
        try:
            entry = json.loads(last)
            self._seq, self._head = int(entry["seq"]), str(entry["hash"])
        except (ValueError, KeyError, TypeError):
            # A damaged last line: keep chaining from it so verify points at the damage.
            self._seq, self._head = self._seq + 1, hashlib.sha256(last).hexdigest()

    def _repair_torn_tail(self) -> int:
        """Cut a last line left incomplete by a power cut (it was never a whole record)."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        os.lseek(self._fd, size - 1, os.SEEK_SET)
        if os.read(self._fd, 1) == b"\n":
            return 0
        keep = _last_newline_end(self._fd, size)
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        self._load_head(keep)
        return size - keep


def _last_newline_end(fd: int, size: int) -> int:
    """Offset just after the last ``\\n`` in the file (0 if none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        chunk = os.pread(fd, pos - start, start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        pos = start
    return 0


def _last_line(fd: int, size: int) -> bytes | None:
    if size == 0:
        return None
    end = size - 1 if os.pread(fd, 1, size - 1) == b"\n" else size
    start = _last_newline_end(fd, end)
    return os.pread(fd, end - start, start) if end > start else None


def iter_lines(path: str | os.PathLike[str], offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(end offset, line without newline) for every complete line from ``offset``."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        position = offset
        for raw in handle:
            if not raw.endswith(b"\n"):
                return
            position += len(raw)
            yield position, raw[:-1]


def verify(path: str | os.PathLike[str]) -> VerifyResult:
    """Check the whole chain; the first broken line is reported by its 1-based number."""
    head, count = GENESIS, 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return VerifyResult(False, 0, GENESIS, None, f"no audit log at {path}")
    with handle:
        for number, raw in enumerate(handle, start=1):
            problem = _check_line(raw, head, count + 1)
            if problem:
                return VerifyResult(False, count, head, number, problem)
            entry = json.loads(raw)
            head, count = entry["hash"], count + 1
    return VerifyResult(True, count, head)


def _check_line(raw: bytes, prev: str, seq: int) -> str:
    if not raw.endswith(b"\n"):
        return "incomplete last line (torn write)"
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "not valid JSON"
    if not isinstance(entry, dict) or set(entry) != _LINE_KEYS:
        return "not an audit record (wrong fields)"
    if entry["seq"] != seq:
        return f"sequence number {entry['seq']!r}, expected {seq} (a line was removed or moved)"
    if entry["prev"] != prev:
        return "does not chain to the previous line (a line was removed, moved or edited)"
    if record_hash(entry) != entry["hash"]:
        return "hash does not match the content (the line was edited)"
    return ""


def tail(path: str | os.PathLike[str], limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` complete, parseable records, oldest first (for the UI and CLI)."""
    if limit <= 0:
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= limit:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.split(b"\n")
    if position > 0:
        lines = lines[1:]  # the first piece may be a partial line
    entries = []
    for raw in lines[:-1]:  # the last piece is empty or an incomplete line
        try:
            entry = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(entry, dict) and set(entry) == _LINE_KEYS:
            entries.append(entry)
    return entries[-limit:]


def iter_reverse(path: str | os.PathLike[str], *, chunk: int = 65536,
                 ) -> Iterator[dict[str, Any]]:
    """Every complete, parseable record, newest first, reading the file backwards in chunks
    (paging the newest records of a long log reads only its end)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        rest = b""
        first = True
        while position > 0:
            step = min(chunk, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + rest
            lines = data.split(b"\n")
            rest = lines[0]
            body = lines[1:]
            if first:
                body = body[:-1]  # after the last newline: empty or a torn line
                first = False
            for raw in reversed(body):
                entry = _parse(raw)
                if entry is not None:
                    yield entry
        if first:
            return
        entry = _parse(rest)
        if entry is not None:
            yield entry


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) and set(entry) == _LINE_KEYS else None


def describe(path: str | os.PathLike[str], result: VerifyResult) -> str:
    """The one-line verdict both ``audit verify`` commands print (OK, BROKEN at line n)."""
    if result.ok:
        return f"audit log OK: {path}: {result.records} records, chain head {result.head[:16]}"
    if result.line is None:
        return f"audit log {path}: {result.problem}"
    return (f"audit log BROKEN: {path} line {result.line}: {result.problem} "
            f"({result.records} records before it verify)")


def format_record(entry: dict[str, Any]) -> str:
    """One record as both ``audit show`` commands print it: seq, time, event, fields."""
    fields = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(entry["fields"].items()))
    return f"{entry['seq']:>6} {entry['ts']} {entry['event']} {fields}".rstrip()


def verify_report(path: str | os.PathLike[str]) -> tuple[bool, str]:
    """Whether the chain holds and what ``audit verify`` prints (station and practice)."""
    result = verify(path)
    return result.ok, describe(path, result)


def show_report(path: str | os.PathLike[str], last: int) -> list[str]:
    """The lines ``audit show`` prints, oldest of the last ``last`` first; a missing log is
    a ``FileNotFoundError`` whose message names it."""
    try:
        entries = tail(path, last)
    except FileNotFoundError:
        raise FileNotFoundError(f"no audit log at {path}") from None
    return [format_record(entry) for entry in entries]
