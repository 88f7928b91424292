"""mDNS (zeroconf) for ``_capture-sync._tcp``: the receiver advertises, the station browses.

Discovery is only a hint. Anyone on the LAN can advertise any name and any TXT record; the
station uses what it finds to decide *where to try*, never *whom to trust* -- that is the TLS
pin's job (:mod:`sync.pinning`). So candidates are every instance that carries the
provisioned name or the provisioned pin, and each is then pin-checked on connect.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ifaddr
from zeroconf import (
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from .protocol import PROTOCOL_VERSION, SERVICE_TYPE

log = logging.getLogger(__name__)


def _zeroconf(interfaces: Sequence[str] | None) -> Zeroconf:
    if interfaces:
        return Zeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
    return Zeroconf(ip_version=IPVersion.V4Only)


def instance_label(full_name: str) -> str:
    """``practice._capture-sync._tcp.local.`` -> ``practice``."""
    suffix = "." + SERVICE_TYPE
    return full_name[: -len(suffix)] if full_name.endswith(suffix) else full_name


#: TXT ``state``: whether the receiver takes uploads now (``accepting``) or refuses them with
#: 503 until space is freed (``full``, with ``retry`` = the seconds it asks stations to wait).
#: A changed record reaches every browsing station at once, so they resume without waiting.
#: ``since`` (milliseconds since the epoch when the state began) makes every announcement a
#: record no station has cached: a browser reports a change only for a record it does not
#: hold, and it holds a superseded one for some seconds, so going back to a state it saw
#: shortly before would otherwise pass unnoticed.
STATE_ACCEPTING = "accepting"
STATE_FULL = "full"


class Advertiser:
    """Announces one receiver: instance ``name`` on ``port`` with TXT ``v``, ``pin`` and
    ``state`` (see :data:`STATE_ACCEPTING`)."""

    def __init__(
        self,
        name: str,
        port: int,
        pin: str,
        *,
        addresses: Sequence[str] = (),
        interfaces: Sequence[str] | None = None,
        server: str | None = None,
        cooperate: bool = False,
    ) -> None:
        self._zc = _zeroconf(interfaces)
        self.pin = pin
        addrs = list(addresses) or list(interfaces or []) or _primary_addresses()
        host = server or (socket.gethostname().split(".")[0] + ".local.")
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in addrs],
            port=port,
            properties=self._properties(True, None),
            server=host,
        )
        try:
            # cooperate=True skips the name-conflict probe (tests use it to play a rogue that
            # answers for the genuine receiver's name at the same time).
            self._zc.register_service(self.info, cooperating_responders=cooperate)
        except BaseException:
            self._zc.close()
            raise

    def _properties(self, accepting: bool, retry_after: int | None) -> dict[str, str]:
        properties = {"v": PROTOCOL_VERSION, "pin": self.pin,
                      "state": STATE_ACCEPTING if accepting else STATE_FULL,
                      "since": str(time.time_ns() // 1_000_000)}
        if not accepting and retry_after is not None:
            properties["retry"] = str(int(retry_after))
        return properties

    def set_accepting(self, accepting: bool, retry_after: int | None = None) -> None:
        """Re-announce the record with the receiver's new ``state`` (and ``retry``)."""
        self.info = ServiceInfo(
            SERVICE_TYPE, self.info.name, addresses=self.info.addresses, port=self.info.port,
            properties=self._properties(accepting, retry_after), server=self.info.server)
        self._zc.update_service(self.info)

    def close(self) -> None:
        try:
            self._zc.unregister_service(self.info)
        finally:
            self._zc.close()

    def __enter__(self) -> Advertiser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _primary_addresses() -> list[str]:
    """Every non-loopback IPv4 address of this host (what a LAN station can reach)."""
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return found or ["127.0.0.1"]


@dataclass(frozen=True)
class Candidate:
    """One advertised receiver address. ``txt_pin`` is what it *claims*; TLS decides."""

    name: str
    host: str
    port: int
    version: str
    txt_pin: str
    #: TXT ``state`` is ``accepting`` (or absent: an older receiver); False while it says
    #: ``full``. A hint like the rest: the 503 with ``Retry-After`` is what the worker obeys.
    accepting: bool = True


#: How often a service whose details did not arrive is asked again (1, 2, 4, ... s apart).
RESOLVE_RETRIES = 6


class Browser:
    """Keeps a live view of advertised receivers until closed (one background thread)."""

    def __init__(self, interfaces: Sequence[str] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._on_change_cb = on_change
        self._closed = False
        self._zc = _zeroconf(interfaces)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._found: dict[str, list[Candidate]] = {}
        self._browser = ServiceBrowser(self._zc, SERVICE_TYPE, handlers=[self._on_change])

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            with self._changed:
                self._found.pop(name, None)
                self._changed.notify_all()
            return
        self._resolve(zeroconf, service_type, name, 0)

    def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str, attempt: int) -> None:
        if self._closed:
            return
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None:
            # A busy network (or host) can drop the answers; the browser will not announce
            # the service again, so keep asking for a while rather than never seeing it.
            if attempt < RESOLVE_RETRIES and not self._closed:
                timer = threading.Timer(min(2.0 ** attempt, 10.0), self._resolve,
                                        (zeroconf, service_type, name, attempt + 1))
                timer.daemon = True
                timer.start()
            return
        props = {
            (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)):
            (v.decode("utf-8", "replace") if isinstance(v, bytes) else "")
            for k, v in info.properties.items()
        }
        candidates = [
            Candidate(instance_label(name), addr, int(info.port or 0),
                      props.get("v", ""), props.get("pin", "").lower(),
                      props.get("state", STATE_ACCEPTING) != STATE_FULL)
            for addr in info.parsed_addresses(IPVersion.V4Only)
        ]
        with self._changed:
            self._found[name] = candidates
            self._changed.notify_all()
        if self._on_change_cb is not None:
            self._on_change_cb()

    def all(self) -> list[Candidate]:
        with self._lock:
            return [c for group in self._found.values() for c in group]

    def candidates(self, *, name: str, pin: str) -> list[Candidate]:
        """Instances worth a pinned connection attempt, best first.

        Same name and advertised pin first, then same name, then same pin under another name
        (a receiver renamed after a conflict). Other protocol versions are skipped.
        """
        ranked: list[tuple[int, Candidate]] = []
        for c in self.all():
            if c.version != PROTOCOL_VERSION or not c.port:
                continue
            score = (2 if c.name == name else 0) + (1 if c.txt_pin == pin else 0)
            if score:
                ranked.append((-score, c))
        ranked.sort(key=lambda pair: pair[0])
        return [c for _, c in ranked]

    def addresses(self, *, name: str, pin: str) -> list[tuple[str, int]]:
        """``(host, port)`` of :meth:`candidates`, best first: where a pinned client tries."""
        return [(c.host, c.port) for c in self.candidates(name=name, pin=pin)]

    def wait_for(self, *, name: str, pin: str, timeout: float) -> list[Candidate]:
        """Block until at least one candidate is known or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._lock.release()
                try:
                    found = self.candidates(name=name, pin=pin)
                finally:
                    self._lock.acquire()
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def close(self) -> None:
        self._closed = True
        self._browser.cancel()
        self._zc.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_receiver(name: str, pin: str, *, timeout: float,
                  interfaces: Sequence[str] | None = None) -> list[tuple[str, int]]:
    """One look for a receiver: browse up to ``timeout`` seconds, return its addresses.

    For a one-shot step (enrolment, provisioning) that needs addresses once and no browser
    afterwards; the sync worker keeps a live :class:`Browser` instead. Candidates are those
    with the provisioned name or pin, best first; each is still pin-checked on connect.
    """
    with Browser(interfaces) as browser:
        browser.wait_for(name=name, pin=pin, timeout=timeout)
        return browser.addresses(name=name, pin=pin)
