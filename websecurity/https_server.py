"""Serve a WSGI app over HTTPS in a background thread, with cheroot hardened against slow clients.

Both programs need the same thing: the receiver's upload endpoint and the station's review UI
are WSGI apps that must run over TLS in a production server, start from a CLI or a test, tell
the caller which port they got (port 0 in tests) and stop without leaking threads. This module
is that one job and nothing else; it knows nothing about either app. How one idle or slow
client is kept from stalling the others is in :mod:`.slow_clients`.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .slow_clients import DeferredTLSAdapter, GuardedServer

log = logging.getLogger(__name__)

WsgiApp = Callable[..., Any]

#: Fewest request workers. Every client that is mid-request holds one worker until its
#: deadline, so the pool must outnumber the slow clients a LAN can plausibly produce; idle
#: threads cost a little memory and nothing else.
MIN_THREADS = 32
#: Handshake, request line and headers must all arrive within this many seconds.
HEADER_TIMEOUT = 10.0
#: A body gets this many seconds plus its declared length at :data:`MIN_BODY_RATE`.
BODY_TIMEOUT = 10.0
#: Bytes per second below which an upload is cut off (a Wi-Fi station does far better).
MIN_BODY_RATE = 64 * 1024
#: Open connections one address may hold; more are closed on accept. Browsers open up to
#: six per host, so this leaves room for a few tabs.
MAX_PER_ADDRESS = 16
#: The ``Server`` header of every response: the same word for every server of the project,
#: so nobody learns the product, its version or the station's name before signing in.
SERVER_HEADER = "https"
#: TLS 1.2 suites offered: forward-secret key exchange (ECDHE, with the ECDSA key every
#: certificate here has) and AEAD ciphers only, no CBC, no SHA-1 MACs. TLS 1.3 (preferred,
#: every client here speaks it: the station's Python/OpenSSL 3 client, curl, Chromium) has
#: only AEAD suites anyway. TLS 1.2 stays for the browsers of older clinic PCs.
TLS12_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
))


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """TLS 1.2 or newer, AEAD suites only (:data:`TLS12_CIPHERS`), no renegotiation."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    return context


class HttpsServer:
    """One WSGI app on ``host:port`` over TLS; ``start()`` returns once the socket is bound.

    ``threads`` is the number of request workers (raised to :data:`MIN_THREADS`);
    ``timeout`` bounds each silent wait on a client and how long an idle connection is kept
    (a station that loses its network mid-upload must not pin a worker forever). On top of
    it, every request has a deadline (:data:`HEADER_TIMEOUT`, then :data:`BODY_TIMEOUT`
    plus the body at :data:`MIN_BODY_RATE`), and one address holds at most
    ``max_per_address`` connections.
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        host: str,
        port: int,
        cert_path: str | Path,
        key_path: str | Path,
        threads: int = 8,
        timeout: float = 30.0,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        min_body_rate: float = MIN_BODY_RATE,
        max_per_address: int = MAX_PER_ADDRESS,
    ) -> None:
        self._server = GuardedServer(
            (host, port),
            app,
            numthreads=max(threads, MIN_THREADS),
            server_name=SERVER_HEADER,
            timeout=timeout,
            shutdown_timeout=5,
            # Bigger than the per-address bound times a handful of hosts: connections parked
            # in the selector cost a file descriptor, not a worker.
            request_queue_size=128,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            min_body_rate=min_body_rate,
            max_per_address=max_per_address,
        )
        adapter = DeferredTLSAdapter(str(cert_path), str(key_path))
        harden(adapter.context)
        adapter.idle_timeout = timeout
        self._server.ssl_adapter = adapter
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def host(self) -> str:
        return str(self._server.bind_addr[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for); valid after :meth:`start`."""
        return int(self._server.bind_addr[1])

    def start(self) -> HttpsServer:
        """Bind and serve in a daemon thread. Raises ``OSError`` if the port is taken."""
        with self._start_lock:  # the port is visible once bound: a second start must see it
            if self._thread is not None:
                raise RuntimeError("server already started")
            self._server.prepare()
            self._thread = threading.Thread(
                target=self._serve, name=f"https-{self.port}", daemon=True
            )
            self._thread.start()
        log.info("https server listening on %s:%d", self.host, self.port)
        return self

    def _serve(self) -> None:
        try:
            self._server.serve()
        except Exception:  # a crash in the loop must be visible, not silent
            log.exception("https server loop failed")

    def stop(self) -> None:
        """Stop accepting, finish or drop in-flight requests, join every worker thread."""
        if self._thread is None:
            return
        self._server.stop()
        self._thread.join(timeout=10)
        self._thread = None

    def serve_forever(self, stop: threading.Event) -> None:
        """Start, then block until ``stop`` is set (the CLI's foreground mode)."""
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    def __enter__(self) -> HttpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
