"""The one HTTP(S) client forwarding uses: a kept-alive connection to one destination.

TLS is verified either against ``ca_file`` (hostname checked), or against one pinned
certificate (SHA-256 of its DER; then the chain and name are not consulted, as with the
station's pin of the practice server), or against the system's CAs. A client certificate and
HTTP basic auth are optional. Any transport failure closes the connection, so the next request
starts clean.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import PracticeError
from .config import Destination


class TransportError(PracticeError, OSError):
    """The request did not get an HTTP answer (connection, TLS, timeout); worth retrying."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def tls_context(dest: Destination) -> ssl.SSLContext:
    """The TLS context a destination's settings ask for."""
    if dest.pinned_sha256:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin below is the check
    else:
        context = ssl.create_default_context(
            cafile=str(dest.ca_file) if dest.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if dest.client_cert and dest.client_key:
        context.load_cert_chain(str(dest.client_cert), str(dest.client_key))
    return context


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    base_path: str


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    return _Target(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                   parts.path.rstrip("/"))


#: Answers that mean "this server cannot take it now; another of the same archive may".
FAILOVER_STATUS = frozenset({502, 503, 504})


class HttpClient:
    """Requests to one destination over one kept-alive connection.

    With ``failover_urls`` the client moves to the next server when the current one gives no
    answer (or 502/503/504) and stays there while it works: Orthanc servers sharing one
    index are one archive, so any of them may take any instance.
    """

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.https = dest.url.startswith("https://")
        self._targets = [_target(u) for u in (dest.url, *dest.failover_urls)]
        self._current = 0
        self._context = tls_context(dest) if self.https else None
        self._conn: http.client.HTTPConnection | None = None

    @property
    def host(self) -> str:
        return self._targets[self._current].host

    @property
    def port(self) -> int:
        return self._targets[self._current].port

    @property
    def base_path(self) -> str:
        return self._targets[self._current].base_path

    def request(self, method: str, path: str, body: bytes | Sequence[bytes] = b"",
                headers: dict[str, str] | None = None) -> Response:
        """One request to ``base URL + path``, on the next server if this one is down;
        :class:`TransportError` if none answered."""
        error: TransportError | None = None
        reply: Response | None = None
        for _ in self._targets:
            try:
                reply = self._request_once(method, path, body, headers)
            except TransportError as exc:
                error = exc
            else:
                if reply.status not in FAILOVER_STATUS or len(self._targets) == 1:
                    return reply
            self.close()
            self._current = (self._current + 1) % len(self._targets)
        if reply is not None:
            return reply
        assert error is not None
        raise error

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        if self.https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.dest.timeout_s, context=self._context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.dest.timeout_s)
        conn.connect()
        if self.dest.pinned_sha256:
            sock = conn.sock
            der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
            if not der or hashlib.sha256(der).hexdigest() != self.dest.pinned_sha256:
                conn.close()
                raise TransportError("the server's certificate does not match pinned_sha256")
        self._conn = conn
        return conn

    def _auth(self) -> dict[str, str]:
        if not self.dest.username:
            return {}
        token = f"{self.dest.username}:{self.dest.password()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}

    def _request_once(self, method: str, path: str, body: bytes | Sequence[bytes],
                      headers: dict[str, str] | None) -> Response:
        chunks = [body] if isinstance(body, bytes | bytearray) else list(body)
        all_headers = {"Content-Length": str(sum(len(c) for c in chunks)), **self._auth(),
                       **(headers or {})}
        try:
            conn = self._connect()
            conn.putrequest(method, self.base_path + path, skip_accept_encoding=True)
            for key, value in all_headers.items():
                conn.putheader(key, value)
            conn.endheaders()
            for chunk in chunks:
                conn.send(chunk)
            reply = conn.getresponse()
            data = reply.read()
            status, reply_headers = reply.status, {k.lower(): v for k, v in reply.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}"[:300]) from None
        if reply_headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, reply_headers, data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
