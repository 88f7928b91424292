"""Misbehaving clients for the HTTPS server tests: idle sockets, stalled uploads, a timed GET.

Each "LAN host" is its own loopback source address (127.0.0.2, 127.0.0.3 ...), so the
per-address bound sees different hosts, as it would on a real network; the legitimate client
stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def host(i: int) -> str:
    """The i-th fake LAN host (0 -> 127.0.0.2), up to 250 of them."""
    return f"127.0.0.{i + 2}"


def tcp(port: int, source: str, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


@contextlib.contextmanager
def idle_and_slow(port: int, idle: int = 50, slow: int = 10,
                  per_host: int = 5) -> Iterator[list[socket.socket]]:
    """``idle`` TCP connections that never send a byte and ``slow`` TLS uploads that send
    their headers and 10 bytes of a 1 MB body, then stall; ``per_host`` connections each."""
    socks: list[socket.socket] = []
    try:
        for i in range(idle):
            socks.append(tcp(port, host(i // per_host)))
        first_slow_host = idle // per_host + 1
        for i in range(slow):
            raw = tcp(port, host(first_slow_host + i // per_host))
            tls = client_context().wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"POST /upload HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: application/octet-stream\r\n"
                        b"Content-Length: 1000000\r\n\r\n" + b"x" * 10)
            socks.append(tls)
        time.sleep(0.3)  # let the server take them all in before the clock starts
        yield socks
    finally:
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def timed_get(port: int, path: str = "/", timeout: float = 60.0,
              source: str = "127.0.0.1") -> tuple[float, str]:
    """Seconds for a fresh connection, handshake, GET and the status line; and that line."""
    started = time.monotonic()
    with tcp(port, source, timeout) as raw, \
            client_context().wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                    .encode())
        line = tls.recv(4096).decode("latin-1").split("\r\n", 1)[0]
    return time.monotonic() - started, line
