"""Serve a WSGI app over HTTPS in a background thread, with cheroot's builtin TLS adapter.

Both programs need the same thing: the receiver's upload endpoint and the station's review UI
are WSGI apps that must run over TLS in a production server, start from a CLI or a test, tell
the caller which port they got (port 0 in tests) and stop without leaking threads. This module
is that one job and nothing else; it knows nothing about either app.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

log = logging.getLogger(__name__)

WsgiApp = Callable[..., Any]


class HttpsServer:
    """One WSGI app on ``host:port`` over TLS; ``start()`` returns once the socket is bound.

    ``threads`` is the number of request workers; ``timeout`` bounds how long a silent client
    may hold one (a station that loses its network mid-upload must not pin a worker forever).
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
        server_name: str = "capture",
    ) -> None:
        self._server = wsgi.Server(
            (host, port),
            app,
            numthreads=threads,
            server_name=server_name,
            timeout=timeout,
            shutdown_timeout=5,
        )
        adapter = BuiltinSSLAdapter(str(cert_path), str(key_path))
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
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
