"""Heartbeats of the station's threads: the systemd watchdog is fed only while all of them beat.

A station that still answers systemd but no longer captures is worse than one that crashes:
systemd restarts a crashed station, never a wedged one. So every thread that serves a nurse
(scanning, capturing, the tick itself) reports a heartbeat here, and the tick thread feeds the
watchdog only while each registered thread is alive *and* has beaten within its own limit.
A dead thread or one stuck in a call stops the feeding, and systemd restarts the station
within ``WatchdogSec``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Beat:
    limit: float
    last: float
    thread: threading.Thread | None = None


class Heartbeats:
    """Named heartbeats, each with how long it may stay silent (``limit`` seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._beats: dict[str, _Beat] = {}
        self._lock = threading.Lock()

    def register(self, name: str, limit: float, thread: threading.Thread | None = None) -> None:
        """Watch ``name`` from now on (it counts as having just beaten); ``thread``, when
        given, must also be alive."""
        with self._lock:
            self._beats[name] = _Beat(limit, self._clock(), thread)

    def attach(self, name: str, thread: threading.Thread) -> None:
        """The thread behind an already registered heartbeat (once it exists)."""
        with self._lock:
            self._beats[name].thread = thread

    def beat(self, name: str) -> None:
        """``name`` is making progress."""
        with self._lock:
            beat = self._beats.get(name)
            if beat is not None:
                beat.last = self._clock()

    def forget(self, name: str) -> None:
        with self._lock:
            self._beats.pop(name, None)

    def silent_for(self, name: str) -> float:
        """Seconds since ``name`` last beat (for tests and diagnostics)."""
        with self._lock:
            return self._clock() - self._beats[name].last

    def stalled(self) -> list[str]:
        """The heartbeats that are dead (their thread ended) or silent past their limit."""
        now = self._clock()
        with self._lock:
            return sorted(
                name for name, beat in self._beats.items()
                if (beat.thread is not None and not beat.thread.is_alive())
                or now - beat.last > beat.limit
            )
