"""Shared test scaffolding for the delivery tests: a file-backed outbox, a running receiver,
sealed captures and amendments made with the real envelope code (v2, signed with the test
station's Ed25519 key), and a station identity.

The outbox here is a plain implementation of :class:`sync.outbox.Outbox` (the station's
vault is the production one); it keeps sealed files on disk so uploads really stream.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image

from practice.keys import ReceiverKeys
from practice.receiver_api import ReceiverApp
from practice.store import ReceiverStore
from sync import envelope
from sync.outbox import OutboxItem
from sync.protocol import station_id_for
from sync.uploader import DeliveryTarget
from websecurity.https_server import HttpsServer


def uuid7() -> str:
    """A time-ordered UUID (version 7 layout) as the station makes them."""
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    low = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | low
    return str(uuid.UUID(int=value))


@dataclass
class _Row:
    item: OutboxItem
    state: str = "queued"
    retry_at: float = 0.0
    lease_until: float = 0.0
    receipt: bytes = b""
    reason: str = ""


class FileOutbox:
    """Sealed files in a directory, delivery state in memory; oldest due item first."""

    def __init__(self, directory: Path, clock=time.time) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.opened = 0

    def add(self, kind: str, item_id: str, sealed: bytes) -> OutboxItem:
        path = self.directory / f"{item_id}.sealed"
        path.write_bytes(sealed)
        item = OutboxItem(item_id, kind, path, len(sealed), hashlib.sha256(sealed).hexdigest())
        with self._lock:
            self._rows[item_id] = _Row(item)
        return item

    def lease_next(self, lease_seconds: float) -> OutboxItem | None:
        now = self._clock()
        with self._lock:
            for row in self._rows.values():
                expired = row.state == "sending" and row.lease_until <= now
                if (row.state == "queued" and row.retry_at <= now) or expired:
                    row.state = "sending"
                    row.lease_until = now + lease_seconds
                    return row.item
        return None

    def open_sealed(self, item: OutboxItem) -> BinaryIO:
        self.opened += 1
        return open(item.path, "rb")

    def mark_delivered(self, item_id: str, receipt: bytes) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.state, row.receipt = "delivered", receipt

    def mark_rejected(self, item_id: str, reason: str) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.state, row.reason = "rejected", reason

    def release(self, item_id: str, retry_at: float) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.state, row.retry_at = "queued", retry_at
            row.item = OutboxItem(**{**row.item.__dict__, "attempts": row.item.attempts + 1})

    def reschedule(self, shift: float, latest: float) -> None:
        with self._lock:
            for row in self._rows.values():
                if row.state == "queued" and row.retry_at > 0:
                    row.retry_at = min(row.retry_at + shift, latest)
                elif row.state == "sending":
                    row.lease_until += shift

    def pending_count(self) -> int:
        with self._lock:
            return sum(r.state in ("queued", "sending") for r in self._rows.values())

    def state(self, item_id: str) -> str:
        with self._lock:
            return self._rows[item_id].state

    def row(self, item_id: str) -> _Row:
        with self._lock:
            return self._rows[item_id]

    def make_due(self) -> None:
        """Forget retry times (tests do not wait out real backoff)."""
        with self._lock:
            for row in self._rows.values():
                row.retry_at = 0.0


@dataclass
class Station:
    key: Ed25519PrivateKey
    name: str = "exam-1"

    @property
    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def station_id(self) -> str:
        return station_id_for(self.public_raw)


def new_station(name: str = "exam-1") -> Station:
    return Station(Ed25519PrivateKey.generate(), name)


#: Capture metadata as a station seals it (every key from the v2 table in sync/envelope.py).
METADATA = {
    "patient_id": "000123456", "issuer": "GSRN-8018", "encounter": "E-77",
    "operator": "nurse-4", "consent": "record-only", "body_site": "heel",
    "laterality": "left", "station_name": "exam-1",
    "captured_at": "2025-03-04T10:11:12+00:00", "clock_synced": True,
    "provenance": "scanned-gs1",
}


def tiny_jpeg(label: str = "", size: tuple[int, int] = (16, 12)) -> bytes:
    """A real JPEG (the practice refuses anything that does not decode), made distinct by
    ``label`` in a comment segment."""
    out = io.BytesIO()
    Image.new("RGB", size, (180, 90, 40)).save(out, "JPEG", quality=80,
                                                comment=label.encode())
    return out.getvalue()


def noise_jpeg(size: tuple[int, int], quality: int = 100, seed: int = 1) -> bytes:
    """A large real JPEG (random pixels compress badly: about 1.5 bytes a pixel at q100)."""
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


PREVIEW = tiny_jpeg("preview")


def seal_capture(keys: ReceiverKeys, station: Station, capture_id: str | None = None,
                 image: bytes | None = None, **meta) -> tuple[str, bytes, bytes]:
    """(capture id, sealed bytes, the JPEG bytes inside)."""
    return seal_capture_to(keys.practice_public, station, capture_id, image, **meta)


def seal_capture_to(practice_public, station: Station, capture_id: str | None = None,
                    image: bytes | None = None, **meta) -> tuple[str, bytes, bytes]:
    """Like :func:`seal_capture`, with only the practice public key (as a station has it)."""
    capture_id = capture_id or uuid7()
    image = image if image is not None else tiny_jpeg(capture_id, (32, 24))
    metadata = {**METADATA, "station_id": station.station_id, "capture_id": capture_id, **meta}
    sealed = envelope.seal("capture", metadata, {"image": image, "preview": PREVIEW},
                              recipients=[practice_public], station_key=station.key,
                              item_id=capture_id)
    return capture_id, sealed, image


def seal_amendment(keys: ReceiverKeys, station: Station, capture_id: str, *,
                   retract: bool = False, changes: dict | None = None,
                   amendment_id: str | None = None) -> tuple[str, bytes]:
    """(amendment id, sealed bytes) of an amendment (or retraction) of ``capture_id``."""
    amendment_id = amendment_id or uuid7()
    metadata = {"station_id": station.station_id, "amends": capture_id,
                "at": "2025-03-04T11:00:00+00:00", "retract": retract,
                "changes": {} if retract else (changes or {"body_site": "knee"})}
    if retract:
        metadata["reason"] = "wrong patient"
    sealed = envelope.seal("amendment", metadata, {}, recipients=[keys.practice_public],
                              station_key=station.key, item_id=amendment_id,
                              subject=capture_id)
    return amendment_id, sealed


@dataclass
class RunningReceiver:
    data_dir: Path
    keys: ReceiverKeys
    store: ReceiverStore
    app: ReceiverApp
    server: HttpsServer
    extra: list = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pin(self) -> str:
        return self.keys.pin

    def enrol_directly(self, station: Station, status: str = "approved") -> DeliveryTarget:
        """Register a station without the HTTP enrolment (tests of later steps)."""
        token, _ = self.store.create_token("room", 600, require_approval=False)
        self.store.redeem_token(token, station.station_id, station.public_raw, station.name)
        if status != "approved":
            self.store.set_status(station.station_id, status)
        return self.target_for(station)

    def target_for(self, station: Station) -> DeliveryTarget:
        return DeliveryTarget(station.station_id, self.keys.name, self.keys.pin,
                              self.keys.receipt_public_raw)

    def put(self, station: Station, kind: str, item_id: str, sealed: bytes):
        """Upload one sealed item as the station's client does; the response."""
        from sync.client import ReceiverClient
        from sync.protocol import item_path

        with ReceiverClient("127.0.0.1", self.port, self.pin, station.key,
                            station.station_id, timeout=30) as client:
            return client.request("PUT", item_path(kind, item_id), body=sealed,
                                  sha256_hex=hashlib.sha256(sealed).hexdigest())

    def filed_jpegs(self) -> list[Path]:
        """The photos in patient folders (not their thumbnails)."""
        return sorted(p for p in (self.data_dir / "inbox").rglob("*.jpg")
                      if not p.name.endswith(".thumb.jpg"))

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


def unique_name() -> str:
    """A receiver name no other process on this host is announcing (mDNS on loopback is
    shared by every test run on the machine)."""
    return "practice-" + uuid.uuid4().hex[:10]


def start_receiver(data_dir: Path, name: str | None = None, port: int = 0,
                   keys: ReceiverKeys | None = None, **app_kwargs) -> RunningReceiver:
    if keys is None:
        keys = ReceiverKeys.create(data_dir, name or unique_name())
    store = ReceiverStore(data_dir)
    app = ReceiverApp(data_dir, keys, store, **app_kwargs)
    server = HttpsServer(app, host="127.0.0.1", port=port, cert_path=keys.tls_cert_path,
                         key_path=keys.tls_key_path, threads=4, timeout=5)
    server.start()
    return RunningReceiver(data_dir, keys, store, app, server)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class RogueTlsServer:
    """A TLS server with a key of its own that records every application byte it receives.

    It completes handshakes like any HTTPS server would, then reads until the client goes
    away; ``received`` is what a rogue on the LAN would learn of a capture.
    """

    def __init__(self, keys: ReceiverKeys, host: str = "127.0.0.1") -> None:
        import socket
        import ssl

        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(keys.tls_cert_path, keys.tls_key_path)
        self._sock = socket.create_server((host, 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.handshakes = 0
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rogue-tls", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import ssl

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with self._ctx.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    while True:
                        data = tls.recv(65536)
                        if not data:
                            break
                        self.received += data
            except (TimeoutError, ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)


class CuttingProxy:
    """A TCP proxy that forwards to ``target`` but drops the first ``cuts`` connections after
    ``after`` client bytes: a network that dies mid-upload."""

    def __init__(self, target_port: int, after: int, cuts: int = 1) -> None:
        import socket

        self.target_port = target_port
        self.after = after
        self.cuts_left = cuts
        self.cut_connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="cut-proxy", daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            cut = self.cuts_left > 0
            self.cuts_left -= 1 if cut else 0
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            t = threading.Thread(target=self._pump, args=(client, upstream, cut), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, client, upstream, cut: bool) -> None:
        import selectors

        sent = 0
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if key.fileobj is client:
                        if cut and sent + len(data) >= self.after:
                            key.data.sendall(data[: self.after - sent])
                            self.cut_connections += 1
                            return
                        sent += len(data)
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._accept.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
