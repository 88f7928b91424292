"""The station's HTTP client for one receiver address: pinned TLS, signed requests, streaming.

One object per candidate address. It keeps one keep-alive connection (every new connection
is pin-checked before use), signs every request with the station key, streams sealed files
from disk in fixed-size chunks (memory stays flat however large the backlog), and learns the
receiver's clock from its ``Date`` header so a station without NTP still signs inside the
receiver's replay window (``clock_corrected`` tells the worker that the last answer moved the
offset, so a 401 it got for a stale signature is retried at once, not after a backoff).
"""

from __future__ import annotations

import email.utils
import http.client
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import SyncError
from .pinning import PinMismatch, PinnedHTTPSConnection
from .protocol import StationReport
from .signing import RequestSigner
from .strictparse import ParseError, loads_json

CHUNK = 256 * 1024
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class ReceiverUnavailable(SyncError, ConnectionError):
    """No usable answer from this address (refused, reset, timeout, TLS failure)."""


class SealedFileError(SyncError, RuntimeError):
    """The local sealed file is shorter than the outbox says: a station-side fault."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = ""
    #: Seconds the receiver asks the station to wait (``Retry-After`` on a 503), or None.
    retry_after: float | None = None

    def json(self) -> dict:
        try:
            data = loads_json(self.body, floats=True)  # strict: a bad answer is just {}
        except ParseError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def error(self) -> str:
        """The receiver's short error code (``revoked``, ``pending``, ...), or ''."""
        value = self.json().get("error", "")
        return value if isinstance(value, str) else ""


class ReceiverClient:
    """Signed, pinned requests to ``host:port``. Not thread-safe; one per worker."""

    def __init__(
        self,
        host: str,
        port: int,
        pin: str,
        key: Ed25519PrivateKey,
        station_id: str,
        *,
        timeout: float = 30.0,
        chunk_size: int = CHUNK,
        clock: Callable[[], float] = time.time,
        report: Callable[[], StationReport] | None = None,
    ) -> None:
        self.host = host
        #: Called for every request: the station's status, sent in signed headers.
        self.report = report
        self.port = port
        self.pin = pin
        self.timeout = timeout
        self.chunk_size = chunk_size
        self._clock = clock
        self.clock_offset = 0.0
        #: True when the last answer's ``Date`` changed :attr:`clock_offset`.
        self.clock_corrected = False
        self.signer = RequestSigner(key, station_id, clock=self.receiver_now)
        self._conn: PinnedHTTPSConnection | None = None

    def receiver_now(self) -> float:
        return self._clock() + self.clock_offset

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ReceiverClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> PinnedHTTPSConnection:
        if self._conn is None:
            conn = PinnedHTTPSConnection(self.host, self.port, self.pin, timeout=self.timeout)
            try:
                conn.connect()
            except PinMismatch:
                raise
            except (OSError, ssl.SSLError) as exc:
                conn.close()
                raise ReceiverUnavailable(f"{self.host}:{self.port}: {exc}") from None
            self._conn = conn
        return self._conn

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        stream: BinaryIO | None = None,
        sha256_hex: str = EMPTY_SHA256,
        length: int = 0,
        content_type: str = "",
    ) -> Response:
        """Send one signed request; the body comes from ``body`` or is streamed from ``stream``.

        Raises :class:`PinMismatch` (nothing was sent) or :class:`ReceiverUnavailable`.
        """
        if body is not None:
            length = len(body)
        headers = self.signer.headers(method, path, sha256_hex=sha256_hex, length=length,
                                      report=self.report() if self.report else None)
        if content_type:
            headers["Content-Type"] = content_type
        conn = self._connection()
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            sent_error: OSError | None = None
            try:
                if body:
                    conn.send(body)
                elif stream is not None:
                    self._stream(conn, stream, length)
            except OSError as exc:  # the receiver may answer (and close) before reading it all
                sent_error = exc
            try:
                raw = conn.getresponse()
                data = raw.read()
            except (OSError, http.client.HTTPException) as exc:
                raise ReceiverUnavailable(
                    f"{self.host}:{self.port}: {sent_error or exc}") from None
        except (ReceiverUnavailable, SealedFileError):
            self.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ReceiverUnavailable(f"{self.host}:{self.port}: {exc}") from None
        self._learn_clock(raw.getheader("Date"))
        if raw.will_close or sent_error is not None:
            self.close()
        return Response(raw.status, data, raw.getheader("Content-Type", "") or "",
                        parse_retry_after(raw.getheader("Retry-After"), self.receiver_now()))

    def _stream(self, conn: PinnedHTTPSConnection, stream: BinaryIO, length: int) -> None:
        remaining = length
        buffer = bytearray(min(self.chunk_size, max(length, 1)))
        view = memoryview(buffer)
        while remaining > 0:
            n = stream.readinto(view[: min(len(buffer), remaining)])
            if not n:
                raise SealedFileError("sealed file is shorter than its recorded size")
            conn.send(view[:n])
            remaining -= n

    def _learn_clock(self, date_header: str | None) -> None:
        self.clock_corrected = False
        if not date_header:
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError):
            return
        offset = server - self._clock()
        # Date has one-second resolution: ignore differences that small.
        offset = offset if abs(offset) > 2 else 0.0
        self.clock_corrected = abs(offset - self.clock_offset) > 2
        self.clock_offset = offset


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` (delta seconds or an HTTP date, RFC 9110 10.2.3) as seconds from now;
    None when absent or unreadable (the station then uses its own backoff)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value[:9]), 86400))
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, min(when - now, 86400.0))
