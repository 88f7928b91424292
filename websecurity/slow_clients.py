"""cheroot pieces that keep one slow or idle client from stalling everyone else.

Stock cheroot (11.x) does the TLS handshake in its single accept loop (cheroot issue #748), so
one TCP connection that never sends a ClientHello stops every other client for the socket
timeout; and it hands every new connection straight to a worker, so idle connections fill the
pool. Its socket timeout bounds each ``recv``, not a request, so a client that sends one byte
every few seconds holds a worker forever. The pieces here change exactly that:

* :class:`DeferredTLSAdapter` wraps a socket *without* the handshake; the handshake runs in a
  worker on the first read, under the request's deadline.
* :class:`GuardedConnectionManager` parks a new connection in cheroot's selector instead of
  handing it to a worker, so a connection takes a worker only once bytes arrive; and it refuses
  connections past a per-address bound.
* :class:`DeadlineReader` gives each request a deadline (handshake plus headers, then the
  body at a minimum rate) and reads with a socket timeout of at most what is left.
* :class:`GuardedConnection` and :class:`GuardedGateway` start those deadlines.

They rely on cheroot internals (``ConnectionManager._from_server_socket``, the gateway's
``get_environ``); pyproject pins cheroot below 12 and tests/websecurity/test_slow_clients.py
fails if the behaviour regresses.
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from typing import Any

from cheroot import errors, server, wsgi
from cheroot.connections import ConnectionManager
from cheroot.makefile import StreamReader, StreamWriter
from cheroot.ssl.builtin import BuiltinSSLAdapter

#: What every request's environ gets in place of the per-connection TLS details, which are
#: not known before the handshake (nothing in the apps reads them).
_TLS_ENVIRON = {"wsgi.url_scheme": "https", "HTTPS": "on"}


class RequestTooSlow(socket.timeout):
    """The request's deadline passed (cheroot answers 408 and closes the connection)."""

    def __init__(self) -> None:
        super().__init__("timed out")


class _DeadlineSocketIO(socket.SocketIO):
    """Raw reads that finish the TLS handshake first and never outlive the deadline."""

    def __init__(self, sock: socket.socket, mode: str, idle_timeout: float) -> None:
        super().__init__(sock, mode)
        self._tls = sock if isinstance(sock, ssl.SSLSocket) else None
        self._idle = idle_timeout
        self.deadline = float("inf")

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTooSlow()
        self._sock.settimeout(min(self._idle, left))

    def readinto(self, b: Any) -> int | None:
        self._arm()
        try:
            if self._tls is not None:
                self._handshake()
            return super().readinto(b)
        finally:  # writes (the response) keep the plain idle timeout
            self._sock.settimeout(self._idle)

    def _handshake(self) -> None:
        tls, self._tls = self._tls, None
        try:
            tls.do_handshake()  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:  # ssl.SSLError and socket.timeout are OSErrors
            # A failed or too-slow handshake: drop the connection without an HTTP answer
            # (there is no TLS channel to send one on).
            raise errors.FatalSSLAlert(str(exc)) from exc


class DeadlineReader(StreamReader):
    """cheroot's reader with a per-request deadline (see :meth:`expire_in`)."""

    def __init__(self, sock: socket.socket, idle_timeout: float,
                 bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        # Skip StreamReader.__init__ (it builds a plain SocketIO); its base takes our raw.
        super(StreamReader, self).__init__(_DeadlineSocketIO(sock, "rb", idle_timeout), bufsize)
        self.bytes_read = 0

    def expire_in(self, seconds: float) -> None:
        """Reads must be done within ``seconds`` from now."""
        self.raw.deadline = time.monotonic() + seconds  # type: ignore[attr-defined]


class DeferredTLSAdapter(BuiltinSSLAdapter):
    """The builtin adapter, minus the handshake in the accept loop (cheroot #748)."""

    idle_timeout = 10.0

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, str]]:
        try:
            tls = self.context.wrap_socket(sock, server_side=True,
                                           do_handshake_on_connect=False)
        except OSError as exc:
            raise errors.FatalSSLAlert(str(exc)) from exc
        return tls, dict(_TLS_ENVIRON)

    def makefile(self, sock: socket.socket, mode: str = "r",
                 bufsize: int = io.DEFAULT_BUFFER_SIZE) -> io.BufferedIOBase:
        if "r" in mode:
            return DeadlineReader(sock, self.idle_timeout, bufsize)
        return StreamWriter(sock, mode, bufsize)


class GuardedConnection(server.HTTPConnection):
    """A connection whose every request starts with the handshake-and-headers deadline, and
    which gives back its place in the per-address count when closed."""

    def communicate(self) -> bool:
        rfile = self.rfile
        if isinstance(rfile, DeadlineReader):
            rfile.expire_in(self.server.header_timeout)
        return super().communicate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            manager = getattr(self.server, "_connections", None)
            if isinstance(manager, GuardedConnectionManager):
                manager.release(self)


class GuardedGateway(wsgi.Gateway_10):
    """Starts the body deadline once the headers are in: a base allowance plus the declared
    length at the minimum rate (chunked bodies get the base allowance)."""

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        rfile = self.req.conn.rfile
        if isinstance(rfile, DeadlineReader):
            srv = self.req.server
            try:
                length = max(0, int(env.get("CONTENT_LENGTH") or 0))
            except ValueError:
                length = 0
            rfile.expire_in(srv.body_timeout + length / srv.min_body_rate)
        return env


class GuardedConnectionManager(ConnectionManager):
    """Accepts without handing the connection to a worker, and bounds connections per
    address (excess ones are closed at once, before any TLS work)."""

    def __init__(self, srv: server.HTTPServer) -> None:
        super().__init__(srv)
        self._per_address: Counter[str] = Counter()
        self._counted: set[int] = set()
        self._count_lock = threading.Lock()

    def _from_server_socket(self, server_socket: socket.socket) -> None:
        conn = super()._from_server_socket(server_socket)
        if conn is None:
            return None
        address = str(conn.remote_addr)
        with self._count_lock:
            admitted = self._per_address[address] < self.server.max_per_address
            if admitted:
                self._per_address[address] += 1
                self._counted.add(id(conn))
        if not admitted:
            conn.close()
            return None
        # Into the selector: a worker gets it only when its first bytes (a ClientHello) arrive.
        self.put(conn)
        return None

    def release(self, conn: server.HTTPConnection) -> None:
        """Forget a closed connection (idempotent: cheroot may close one twice)."""
        with self._count_lock:
            if id(conn) not in self._counted:
                return
            self._counted.discard(id(conn))
            address = str(conn.remote_addr)
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

    def connections_from(self, address: str) -> int:
        with self._count_lock:
            return self._per_address.get(address, 0)


#: Where cheroot's own messages go (stock cheroot writes them raw to stderr).
cheroot_log = logging.getLogger("websecurity.cheroot")


class GuardedServer(wsgi.Server):
    """cheroot's WSGI server with the pieces above plugged in."""

    ConnectionClass = GuardedConnection

    def error_log(self, msg: str = "", level: int = logging.INFO,
                  traceback: bool = False) -> None:
        """cheroot's messages through logging instead of raw stderr. A socket error of one
        client (it went away mid-handshake or mid-request: "EOF occurred in violation of
        protocol", a reset) is cheroot's WARNING with a traceback; it says nothing about this
        server, so it is logged at DEBUG. Errors (cheroot's ERROR level) keep their level and
        traceback."""
        exc = sys.exc_info()[1] if traceback else None
        if isinstance(exc, OSError) and level <= logging.WARNING:
            level = logging.DEBUG
        cheroot_log.log(level, "%s", msg, exc_info=exc)

    def __init__(self, *args: Any, header_timeout: float, body_timeout: float,
                 min_body_rate: float, max_per_address: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gateway = GuardedGateway
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.min_body_rate = min_body_rate
        self.max_per_address = max_per_address

    def prepare(self) -> None:
        super().prepare()
        # Replace the manager cheroot just made (nothing is registered in it but the
        # listening socket) before serving starts.
        stock, self._connections = self._connections, GuardedConnectionManager(self)
        stock.close()  # its selector; the listening socket stays open
