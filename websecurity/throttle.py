"""Login throttling per account and per client: five free failures, then a growing wait.

Counting per account stops a guesser who rotates addresses; counting per client stops one who
rotates names. While either is locked, a login is answered with 429 and ``Retry-After``
*without* checking the password, so a locked account costs the attacker time and the server
no Argon2 work. Each failure past the threshold doubles the wait (30 s, 1 min, 2 min ... capped
at 15 min). A success clears both counters. State is in memory: a restart forgets it, which
an attacker on the LAN cannot cause.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
BASE_DELAY = 30.0
MAX_DELAY = 15 * 60.0
#: Bound on remembered keys, so a flood of made-up names cannot grow memory without limit.
MAX_KEYS = 10_000
#: Failures older than this are forgotten (a typo last week does not count today).
FORGET_AFTER = 24 * 3600.0


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY,
                 max_delay: float = MAX_DELAY) -> None:
        self._clock = clock
        self._free = free_failures
        self._base = base_delay
        self._max = max_delay
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, account: str, client: str) -> tuple[tuple[str, str], ...]:
        return (("account", account.lower()), ("client", client))

    def retry_after(self, account: str, client: str) -> float:
        """Seconds until a login for this account from this client may be tried (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [r.locked_until - now for k in self._keys(account, client)
                     if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failure(self, account: str, client: str) -> float:
        """Record a failed login; returns the wait now imposed (0 while failures are free)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(account, client):
                record = self._records.pop(key, None) or _Record()
                if now - record.last_failure > FORGET_AFTER:
                    record = _Record()
                record.failures += 1
                record.last_failure = now
                if record.failures >= self._free:
                    delay = min(self._max, self._base * 2 ** (record.failures - self._free))
                    record.locked_until = now + delay
                    wait = max(wait, delay)
                self._records[key] = record
            while len(self._records) > MAX_KEYS:
                self._records.popitem(last=False)
        return wait

    def success(self, account: str, client: str) -> None:
        with self._lock:
            for key in self._keys(account, client):
                self._records.pop(key, None)

    def failures(self, account: str = "", client: str = "") -> int:
        """Current failure count for an account or a client (for tests and the status page)."""
        key = ("account", account.lower()) if account else ("client", client)
        with self._lock:
            record = self._records.get(key)
        return record.failures if record else 0
