"""Sign-in throttling by (account, address) and by address: a guesser is stopped, the real
user is never locked out by someone else.

Three counters, each a run of failures forgotten a day after the last one:

* **(account, address)**: five free failures, then a lock that doubles with every further
  failure (30 s, 1 min, 2 min ... capped at 15 min). This is the one that stops a guesser, and
  it only ever locks the account *from that address*.
* **address**: twenty free failures across any names, then the same doubling lock for that
  address (a guesser rotating names).
* **account, from everywhere**: past ten failures, an address that has not signed in to the
  account before is made to wait a few seconds between attempts (doubling from 1 s, capped at
  :data:`ACCOUNT_MAX_DELAY`). That slows a guesser who rotates addresses without ever locking
  the account: six wrong passwords from elsewhere cost the real user nothing, and a flood of
  them costs a new address at most a few seconds, an address that signed in before nothing.

While locked, a sign-in is answered with 429 and ``Retry-After`` *without* checking the
password, so a lock costs the attacker time and the server no Argon2 work. A success clears
its (account, address) and address counters and remembers the pair as known. State is in
memory: a restart forgets it, which an attacker on the LAN cannot cause.
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
#: Failures from one address, whatever the names, before that address is locked.
FREE_CLIENT_FAILURES = 20
#: Failures of one account, from anywhere, before new addresses are slowed.
FREE_ACCOUNT_FAILURES = 10
ACCOUNT_BASE_DELAY = 1.0
#: The most an account's failures elsewhere ever make anyone wait: a slowdown, not a lock.
ACCOUNT_MAX_DELAY = 10.0
#: Bound on remembered keys, so a flood of made-up names cannot grow memory without limit.
MAX_KEYS = 10_000
#: Failures older than this are forgotten (a typo last week does not count today).
FORGET_AFTER = 24 * 3600.0
#: How long a successful (account, address) pair stays exempt from the account-wide slowdown.
KNOWN_FOR = 30 * 24 * 3600.0


@dataclass(frozen=True)
class _Rule:
    free: int
    base: float
    cap: float

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2 ** (failures - self.free))


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY,
                 max_delay: float = MAX_DELAY,
                 free_client_failures: int = FREE_CLIENT_FAILURES,
                 free_account_failures: int = FREE_ACCOUNT_FAILURES,
                 account_max_delay: float = ACCOUNT_MAX_DELAY) -> None:
        self._clock = clock
        self._rules = {
            "pair": _Rule(free_failures, base_delay, max_delay),
            "client": _Rule(free_client_failures, base_delay, max_delay),
            "account": _Rule(free_account_failures, ACCOUNT_BASE_DELAY, account_max_delay),
        }
        self._records: OrderedDict[tuple[str, ...], _Record] = OrderedDict()
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, account: str, client: str) -> list[tuple[str, ...]]:
        name = account.lower()
        keys: list[tuple[str, ...]] = [("pair", name, client), ("client", client)]
        if not self._is_known(name, client):
            keys.append(("account", name))
        return keys

    def _is_known(self, name: str, client: str) -> bool:
        since = self._known.get((name, client))
        return since is not None and self._clock() - since <= KNOWN_FOR

    def retry_after(self, account: str, client: str) -> float:
        """Seconds until a sign-in to this account from this address may be tried (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [r.locked_until - now for k in self._keys(account, client)
                     if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failure(self, account: str, client: str) -> float:
        """Record a failed sign-in; returns the wait now imposed on this account from this
        address (0 while failures are free)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            keys = self._keys(account, client)
            if keys[-1][0] != "account":  # a known address still counts against the account
                keys.append(("account", account.lower()))
            for key in keys:
                record = self._records.pop(key, None) or _Record()
                if now - record.last_failure > FORGET_AFTER:
                    record = _Record()
                record.failures += 1
                record.last_failure = now
                delay = self._rules[key[0]].delay(record.failures)
                if delay:
                    record.locked_until = now + delay
                self._records[key] = record
            waits = [r.locked_until - now for k in self._keys(account, client)
                     if (r := self._records.get(k)) is not None]
            wait = max([0.0, *waits])
            self._trim()
        return wait

    def success(self, account: str, client: str) -> None:
        """Clear this address's counters and remember the pair as one that signs in."""
        name = account.lower()
        with self._lock:
            self._records.pop(("pair", name, client), None)
            self._records.pop(("client", client), None)
            self._known.pop((name, client), None)
            self._known[(name, client)] = self._clock()
            self._trim()

    def _trim(self) -> None:
        while len(self._records) > MAX_KEYS:
            self._records.popitem(last=False)
        while len(self._known) > MAX_KEYS:
            self._known.popitem(last=False)

    def failures(self, account: str = "", client: str = "") -> int:
        """Current failure count: of an account from one address (both given), of an account
        from everywhere, or of an address (for tests and the status page)."""
        if account and client:
            key: tuple[str, ...] = ("pair", account.lower(), client)
        elif account:
            key = ("account", account.lower())
        else:
            key = ("client", client)
        with self._lock:
            record = self._records.get(key)
        return record.failures if record else 0
