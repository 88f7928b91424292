"""UUIDv7 item ids (RFC 9562): time-ordered, so the outbox and the receiver sort by creation.

Python 3.11 has no ``uuid.uuid7``. Within one process ids are strictly increasing even when the
clock stands still or steps back: the 12-bit ``rand_a`` field then carries a counter.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (unix ms, rand_a) of the previous id


def uuid7(now_ns: int | None = None) -> str:
    """A new lowercase hyphenated UUIDv7 string."""
    global _last
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    tail = int.from_bytes(os.urandom(10), "big")
    with _lock:
        last_ms, last_seq = _last
        if ms <= last_ms:
            ms, seq = last_ms, last_seq + 1
            if seq > 0xFFF:  # counter exhausted inside one millisecond: borrow the next one
                ms, seq = ms + 1, 0
        else:
            seq = (tail >> 64) & 0x7FF  # random start, leaving room to count upwards
        _last = (ms, seq)
    rand_b = tail & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def uuid7_time_ms(value: str) -> int:
    """The millisecond timestamp inside a UUIDv7."""
    return uuid.UUID(value).int >> 80
