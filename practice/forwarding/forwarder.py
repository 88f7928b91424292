"""The forwarder: one worker thread per destination drains the queue, with retries.

A worker takes the rows that are due, sends each over its own kept-alive connection, and
records the outcome: forwarded, failed (with the reason), or another attempt later after an
exponential backoff with jitter (``retry.initial_s`` doubling up to ``retry.max_s``, each
delay drawn from its upper half, so stations recovering together do not hit the PACS in
step). It sleeps until the next row is due or :meth:`ForwardQueue.enqueue` wakes it, and an
outage only grows the queue: nothing is dropped, nothing sent twice once accepted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .config import Destination
from .delivery import Outcome, Request, prepare, send, send_stow
from .queue import ForwardQueue, QueueItem, Result
from .transport import HttpClient

log = logging.getLogger(__name__)
IDLE_WAIT_S = 5.0
#: Rows (and bytes) one STOW-RS request may carry.
STOW_GROUP = 8
STOW_GROUP_BYTES = 64 << 20


def backoff_s(attempts: int, initial_s: float, max_s: float,
              rand: Callable[[], float] = random.random) -> float:
    """Delay before attempt ``attempts + 1``: doubling from ``initial_s``, capped, jittered
    into the upper half (never zero, never above the cap)."""
    ceiling = min(max_s, initial_s * (2 ** min(attempts, 40)))
    return ceiling * (0.5 + 0.5 * rand())


def _ramp(items: list[QueueItem], largest: int) -> list[list[QueueItem]]:
    """Groups of 1, 2, 4, ... up to ``largest``: the wire starts after one build, and each
    group is built while the one before it (twice as long to send as this one to build) is
    on the wire."""
    groups, start, size = [], 0, 1
    while start < len(items):
        groups.append(items[start:start + size])
        start += size
        size = min(largest, size * 2)
    return groups


class Forwarder:
    """Drains one :class:`ForwardQueue` to its configured destinations."""

    def __init__(self, queue: ForwardQueue, *, batch: int = 16) -> None:
        self.queue = queue
        self.batch = batch
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: dict[str, HttpClient] = {}

    def _client(self, dest: Destination) -> HttpClient:
        if dest.name not in self._clients:
            self._clients[dest.name] = HttpClient(dest)
        return self._clients[dest.name]

    def _result(self, item: QueueItem, outcome: Outcome) -> Result:
        config = self.queue.config
        if outcome.ok:
            return Result("forwarded")
        if outcome.retry:
            delay = backoff_s(item.attempts, config.retry_initial_s, config.retry_max_s)
            log.warning("forward %s %s to %s: %s; retry in %.1f s", item.kind, item.item_id,
                        item.destination, outcome.error, delay)
            return Result("pending", outcome.error, delay)
        log.error("forward %s %s to %s failed: %s", item.kind, item.item_id, item.destination,
                  outcome.error)
        return Result("failed", outcome.error)

    def _record(self, items: list[QueueItem], outcomes: list[Outcome]) -> None:
        self.queue.record([(item, self._result(item, outcome))
                           for item, outcome in zip(items, outcomes, strict=True)])

    def drain(self, dest: Destination) -> int:
        """Send every row of ``dest`` that is due now; returns how many were attempted.

        A pipeline of three: one thread builds the next group's requests while this thread
        has the current group on the wire, and another records outcomes (SQLite commit, the
        status file's fsync), so neither building nor the disk waits on the network. For a
        PACS a group of rows goes as one STOW-RS request (up to ``STOW_GROUP`` instances,
        ``STOW_GROUP_BYTES``). Stops at the first retryable failure (the destination is down:
        the rest would only fail too, and their order must hold)."""
        done = 0
        with ThreadPoolExecutor(1, f"forward-build-{dest.name}") as builder, \
                ThreadPoolExecutor(1, f"forward-record-{dest.name}") as recorder:
            while not self._stop.is_set():
                items = self.queue.due(dest.name, self.batch)
                if not items:
                    return done
                groups = _ramp(items, STOW_GROUP)
                records: list[Future[None]] = []
                down = False
                builds = [builder.submit(self._prepare, dest, item) for item in groups[0]]
                for index, group in enumerate(groups):
                    if self._stop.is_set():
                        break
                    built = [future.result() for future in builds]
                    if index + 1 < len(groups):
                        builds = [builder.submit(self._prepare, dest, item)
                                  for item in groups[index + 1]]
                    outcomes = self._send_group(dest, built)
                    records.append(recorder.submit(self._record, group, outcomes))
                    done += len(group)
                    if any(not o.ok and o.retry for o in outcomes):
                        down = True
                        break
                for record in records:
                    record.result()  # the next due() must see every outcome
                if down:
                    return done
        return done

    def _send_group(self, dest: Destination,
                    built: list[Request | Outcome | None]) -> list[Outcome]:
        """Outcomes of a group, in order; its STOW-RS requests go together (within limits)."""
        outcomes: list[Outcome | None] = [b if isinstance(b, Outcome) else None for b in built]
        stows = [(i, b) for i, b in enumerate(built)
                 if isinstance(b, Request) and b.what == "STOW-RS"]
        while stows:
            take, size = [], 0
            for index, request in stows:
                if take and size + request.size > STOW_GROUP_BYTES:
                    break
                take.append((index, request))
                size += request.size
            stows = stows[len(take):]
            for (index, _), outcome in zip(take, send_stow(self._client(dest),
                                                           [r for _, r in take]), strict=True):
                outcomes[index] = outcome
        for index, request in enumerate(built):
            if outcomes[index] is None:
                outcomes[index] = send(self._client(dest),
                                       request if isinstance(request, Request) else None)
        return [o if o is not None else Outcome(True) for o in outcomes]

    def _prepare(self, dest: Destination, item: QueueItem) -> Request | Outcome | None:
        return prepare(self.queue.data_dir, self.queue.config, dest, item)

    def drain_all(self) -> int:
        """One pass over every destination, in this thread (``forward run --once``)."""
        return sum(self.drain(dest) for dest in self.queue.config.destinations)

    def _worker(self, dest: Destination, wakeup: threading.Event) -> None:
        while not self._stop.is_set():
            wakeup.clear()  # before draining: a row queued meanwhile wakes the wait below
            try:
                self.drain(dest)
            except Exception:  # a worker must outlive one bad row or a disk hiccup
                log.exception("forwarder for %s: unexpected error", dest.name)
            wait = self.queue.seconds_until_due(dest.name)
            wakeup.wait(IDLE_WAIT_S if wait is None else min(wait, IDLE_WAIT_S))

    def start(self) -> None:
        """One daemon thread per destination (none configured: nothing starts)."""
        for dest in self.queue.config.destinations:
            thread = threading.Thread(target=self._worker,
                                      args=(dest, self.queue.subscribe()), daemon=True,
                                      name=f"forward-{dest.name}")
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers (an in-flight request finishes or times out) and close."""
        self._stop.set()
        self.queue.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        for client in self._clients.values():
            client.close()
        self._clients.clear()
