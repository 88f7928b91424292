"""The station's sync worker: outbox -> discovered, pin-checked receiver -> verified receipt.

One background thread, one item at a time, one keep-alive connection: delivery of a backlog
is limited by the network and the receiver's disk, not by the station, and the station's
memory does not grow with the backlog (files are streamed from disk in fixed chunks).

For each leased item: find a receiver (mDNS candidates, each pin-checked on connect; a
mismatch sends nothing and is audited), PUT the sealed file signed with the station key,
verify the receipt's signature with the receiver's receipt key and that it names exactly this
item, then mark it delivered. Failures release the item with exponential backoff and jitter;
while the receiver is unreachable or busy (5xx, 429: e.g. its disk is full) the worker pauses
as a whole rather than trying every item, for as long as the receiver's ``Retry-After`` asks
(an mDNS update from the receiver wakes it earlier). Refusals that will never change (bad
envelope, conflicting id) mark the item rejected; refusals that an admin can fix (pending
approval, revoked) keep it queued. A 401 right after the receiver's ``Date`` corrected the
station's clock offset is retried at once.

Retry times are wall-clock epoch seconds (they outlive a restart), so the worker watches the
wall clock against the monotonic one: a step (NTP after a boot with a wrong clock) moves every
retry time with it, and none is ever later than ``retry_max_seconds`` from now, also for what
an earlier run left behind (capped on the first step).

``sync`` never imports ``appliance``: the outbox, the identity key and the audit sink are
handed in by the station process.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .client import ReceiverClient, ReceiverUnavailable, Response, SealedFileError
from .discovery import Browser
from .outbox import Outbox, OutboxItem
from .pinning import PinMismatch
from .protocol import (
    PROTOCOL_VERSION,
    STATUS_INTERVAL_SECONDS,
    ReceiptError,
    StationReport,
    item_path,
    software_version,
    verify_receipt,
)

log = logging.getLogger(__name__)

AuditSink = Callable[[str, dict[str, Any]], None]

#: Receiver answers that will not change on retry: the item is rejected (kept on the
#: station, flagged for a human) instead of being retried forever.
PERMANENT = {400, 404, 409, 411, 413, 422}
#: A wall clock that moves this much more (or less) than the monotonic one has stepped.
CLOCK_STEP_SECONDS = 2.0


@dataclass(frozen=True)
class DeliveryTarget:
    """What enrolment gave the station: who it is, and how to recognise its receiver."""

    station_id: str
    receiver_name: str
    pin: str
    receipt_public_key: bytes  # raw Ed25519


class Locator(Protocol):
    def addresses(self) -> list[tuple[str, int]]:
        """Where the receiver may be, best first (hints only: each is pin-checked)."""


class StaticLocator:
    """Fixed addresses (tests, benchmarks, or a site without multicast)."""

    def __init__(self, addresses: Sequence[tuple[str, int]]) -> None:
        self._addresses = list(addresses)

    def addresses(self) -> list[tuple[str, int]]:
        return list(self._addresses)


class MdnsLocator:
    """Candidates from a live zeroconf browse; ``on_change`` fires when the view changes."""

    def __init__(self, name: str, pin: str, *, interfaces: Sequence[str] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.name = name
        self.pin = pin
        self.browser = Browser(interfaces, on_change=on_change)

    def addresses(self) -> list[tuple[str, int]]:
        return self.browser.addresses(name=self.name, pin=self.pin)

    def close(self) -> None:
        self.browser.close()


class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random.

    The fixed half keeps a retry from hammering a receiver that just failed; the random half
    keeps a room full of stations from retrying in lockstep after a shared outage.
    """

    def __init__(self, minimum: float, maximum: float,
                 rng: Callable[[], float] = random.random) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self._rng = rng

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.minimum * (2 ** min(max(failures, 0), 32)))
        return base / 2 + self._rng() * base / 2


class SyncWorker:
    """Delivers the outbox. ``run_once`` is one step (tests drive it); ``start`` loops it."""

    def __init__(
        self,
        outbox: Outbox,
        key: Ed25519PrivateKey,
        target: DeliveryTarget,
        locator: Locator,
        *,
        audit: AuditSink,
        lease_seconds: float = 300.0,
        retry_min_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
        idle_poll_seconds: float = 5.0,
        timeout: float = 30.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] | None = None,
        signing_clock: Callable[[], float] = time.time,
        version: str | None = None,
        status_interval_seconds: float = STATUS_INTERVAL_SECONDS,
    ) -> None:
        self.outbox = outbox
        #: Reported to the receiver with every request (default: the installed package's).
        self.version = software_version() if version is None else version
        self.status_interval_seconds = status_interval_seconds
        self._last_contact = clock()
        self.key = key
        self.target = target
        self.locator = locator
        self.audit = audit
        self.lease_seconds = lease_seconds
        self.backoff = Backoff(retry_min_seconds, retry_max_seconds, rng)
        self.idle_poll_seconds = idle_poll_seconds
        self.timeout = timeout
        self._clock = clock
        # A test's own wall clock is its own monotonic clock (it never steps unseen).
        if monotonic is None:
            monotonic = time.monotonic if clock is time.time else clock
        self._monotonic = monotonic
        #: The station's wall clock as requests are signed with it (corrected by the
        #: receiver's ``Date``; tests skew it).
        self._signing_clock = signing_clock
        self._wall_offset: float | None = None
        self._receipt_key = Ed25519PublicKey.from_public_bytes(target.receipt_public_key)
        self._client: ReceiverClient | None = None
        self._failures = 0
        self.paused_until = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one step -----------------------------------------------------------------------------

    def run_once(self) -> str:
        """Try to deliver one item. Returns what happened (for the loop, tests and logs):
        ``paused``, ``idle``, ``unavailable``, ``busy`` (5xx/429: paused as a whole),
        ``delivered``, ``retry``, ``refused``, ``rejected``."""
        now = self._clock()
        self._follow_clock(now)
        if now < self.paused_until:
            return "paused"
        item = self.outbox.lease_next(self.lease_seconds)
        if item is None:
            if now - self._last_contact >= self.status_interval_seconds:
                self.report_status()
            return "idle"
        client = self._connected_client()
        if client is None:
            self._receiver_failed(item)
            return "unavailable"
        try:
            with self.outbox.open_sealed(item) as stream:
                response = client.request(
                    "PUT", item_path(item.kind, item.item_id), stream=stream,
                    sha256_hex=item.sha256, length=item.size,
                    content_type="application/octet-stream",
                )
        except PinMismatch as exc:
            self._pin_mismatch(exc)
            self._drop_client()
            self._receiver_failed(item)
            return "unavailable"
        except ReceiverUnavailable as exc:
            log.info("upload of %s interrupted: %s", item.item_id, exc)
            self._drop_client()
            self._receiver_failed(item)
            return "unavailable"
        except SealedFileError as exc:
            self.audit("sync.local_file_damaged", {"item_id": item.item_id})
            self.outbox.mark_rejected(item.item_id, str(exc))
            return "rejected"
        self._last_contact = self._clock()
        return self._handle(item, response, corrected=client.clock_corrected)

    def _follow_clock(self, now: float) -> None:
        """Keep retry times honest across wall-clock steps (see the module docstring)."""
        offset = now - self._monotonic()
        first = self._wall_offset is None
        shift = 0.0 if self._wall_offset is None else offset - self._wall_offset
        self._wall_offset = offset
        if abs(shift) < CLOCK_STEP_SECONDS:
            shift = 0.0
        if shift:
            log.warning("wall clock stepped by %+.0f s: retry times follow it", shift)
            self.paused_until += shift
            self._last_contact += shift
        self.paused_until = min(self.paused_until, now + self.backoff.maximum)
        if first or shift:
            self.outbox.reschedule(shift, now + self.backoff.maximum)

    def station_report(self) -> StationReport:
        """What the station tells the receiver with each request (queue depth, version)."""
        return StationReport(self.outbox.pending_count(), self.version or None)

    def report_status(self) -> str | None:
        """``GET /v1/station`` (the receiver records the report; a heartbeat when idle):
        the station's status there (``approved``, ``pending``, ``revoked``), or None."""
        self._last_contact = self._clock()
        client = self._connected_client()
        if client is None:
            return None
        try:
            response = client.request("GET", f"/v{PROTOCOL_VERSION}/station")
        except (PinMismatch, ReceiverUnavailable):
            self._drop_client()
            return None
        status = response.json().get("status")
        return status if isinstance(status, str) else None

    def _handle(self, item: OutboxItem, response: Response, *, corrected: bool = False) -> str:
        status, body, error = response.status, response.body, response.error
        if status in (200, 201):
            try:
                verify_receipt(body, self._receipt_key, station_id=self.target.station_id,
                               kind=item.kind, item_id=item.item_id, sha256=item.sha256,
                               size=item.size)
            except ReceiptError as exc:
                self.audit("sync.bad_receipt", {"item_id": item.item_id, "reason": str(exc)})
                self._release(item, self._item_delay(item))
                return "retry"
            self.outbox.mark_delivered(item.item_id, body)
            self._failures = 0
            log.info("delivered %s %s", item.kind, item.item_id)
            return "delivered"
        if status == 403:
            # pending approval or revoked: an admin can change that; keep everything queued.
            self.audit("sync.refused", {"item_id": item.item_id, "reason": error or "forbidden"})
            self._release(item, self._clock() + self.backoff.maximum)
            self.paused_until = self._clock() + self.backoff.maximum
            return "refused"
        if status in PERMANENT:
            self.audit("sync.rejected", {"item_id": item.item_id, "status": status,
                                         "reason": error})
            self.outbox.mark_rejected(item.item_id, f"receiver answered {status} {error}".strip())
            return "rejected"
        if status >= 500 or status == 429:
            self._receiver_busy(item, status, error, response.retry_after)
            return "busy"
        if status == 401:
            self.audit("sync.unauthorized", {"item_id": item.item_id, "reason": error,
                                             "clock_corrected": corrected})
            if corrected:  # signed with the wrong time; the next request signs with the right
                self._release(item, self._clock())
                return "retry"
        self._release(item, self._item_delay(item))
        return "retry"

    def _receiver_busy(self, item: OutboxItem, status: int, error: str,
                       retry_after: float | None) -> None:
        """The receiver is up but cannot take items now (its disk is full, it is overloaded):
        pause as a whole for what it asked (``Retry-After``, capped at the maximum backoff)
        or the worker's own backoff, and hand the item back due when the pause ends."""
        delay = self.backoff.delay(self._failures) if retry_after is None else retry_after
        delay = max(self.backoff.minimum, min(delay, self.backoff.maximum))  # never a spin
        self._failures += 1
        log.warning("receiver answered %d %s: pausing delivery for %.0f s", status, error, delay)
        self.audit("sync.receiver_busy", {"item_id": item.item_id, "status": status,
                                          "reason": error, "pause_seconds": round(delay, 1)})
        self.paused_until = self._clock() + delay
        self._release(item, self._clock())

    # -- receiver selection -------------------------------------------------------------------

    def _connected_client(self) -> ReceiverClient | None:
        if self._client is not None:
            return self._client
        for host, port in self.locator.addresses():
            client = ReceiverClient(host, port, self.target.pin, self.key,
                                    self.target.station_id, timeout=self.timeout,
                                    clock=self._signing_clock, report=self.station_report)
            try:
                client._connection()
            except PinMismatch as exc:
                self._pin_mismatch(exc)
                continue
            except ReceiverUnavailable as exc:
                log.info("receiver candidate %s:%d unavailable: %s", host, port, exc)
                continue
            self._client = client
            return client
        return None

    def _pin_mismatch(self, exc: PinMismatch) -> None:
        log.warning("refused %s:%d: TLS key does not match the provisioned pin",
                    exc.host, exc.port)
        self.audit("sync.pin_mismatch", {
            "host": exc.host, "port": exc.port, "seen_pin": exc.seen,
            "expected_pin": self.target.pin, "receiver_name": self.target.receiver_name,
        })

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _receiver_failed(self, item: OutboxItem) -> None:
        """The receiver (not this item) is the problem: pause the whole worker and hand the
        item back due at once, so that a receiver announcing itself (``wake``) gets every
        item straight away instead of after each item's own backoff."""
        delay = self.backoff.delay(self._failures)
        self._failures += 1
        self.paused_until = self._clock() + delay
        self._release(item, self._clock())

    def _item_delay(self, item: OutboxItem) -> float:
        return self._clock() + self.backoff.delay(item.attempts)

    def _release(self, item: OutboxItem, retry_at: float) -> None:
        self.outbox.release(item.item_id, retry_at)

    # -- background loop ----------------------------------------------------------------------

    @property
    def receiver_state(self) -> str:
        """For status displays: ``connected`` (a pinned connection is open), ``unreachable``
        (backing off after a failure) or ``unknown`` (nothing tried yet, or idle)."""
        if self._client is not None:
            return "connected"
        if self.paused_until > self._clock() or self._failures:
            return "unreachable"
        return "unknown"

    def wake(self) -> None:
        """Something changed (new item queued, receiver announced): try again now."""
        if self.paused_until > self._clock():
            self.paused_until = 0.0
            self._failures = max(self._failures - 1, 0)
        self._wake.set()

    def start(self) -> SyncWorker:
        if self._thread is not None:
            raise RuntimeError("sync worker already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sync-worker", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # the worker must outlive any single bad item
                log.exception("sync step failed")
                outcome = "idle"
            if outcome in ("delivered", "rejected", "retry"):
                continue
            wait = self.idle_poll_seconds
            if outcome in ("paused", "unavailable", "refused", "busy"):
                wait = max(0.0, min(self.paused_until - self._clock(), self.idle_poll_seconds))
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
            self._thread = None
        self._drop_client()
