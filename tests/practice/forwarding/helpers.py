"""Filed captures and small loopback servers (a FHIR server, a STOW-RS sink) for the tests."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from PIL import Image

from practice.filing import apply_amendment, file_capture

STATION_ID = "st0123456789abcdef"


def new_id() -> str:
    """A UUIDv7-shaped id (what stations use)."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[6] = (raw[6] & 0x0F) | 0x70
    return str(uuid.UUID(bytes=bytes(raw)))


def jpeg_bytes(size: tuple[int, int] = (320, 240), **save: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 90, 40)).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def pdf_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 280), (255, 255, 255)).save(buf, "PDF")
    return buf.getvalue()


def metadata(**overrides: Any) -> dict[str, Any]:
    meta = {
        "patient_id": "P-0042", "issuer": "EXAMPLE-HOSP", "encounter": "ENC-7",
        "operator": "nurse.jane", "consent": "teaching", "body_site": "hand",
        "laterality": "left", "station_id": STATION_ID, "station_name": "Room 4",
        "captured_at": "2025-03-04T10:11:12.345+00:00", "clock_synced": True,
        "session_id": "session-1", "sequence": 1, "provenance": "wristband",
    }
    meta.update(overrides)
    return meta


def _staged(data_dir: Path, data: bytes) -> tuple[Path, str]:
    """A staged payload as the receiver's intake leaves it (written plainly here), its hash."""
    data_dir.mkdir(parents=True, exist_ok=True)
    staged = data_dir / f"staged-{uuid.uuid4().hex}"
    staged.write_bytes(data)
    return staged, hashlib.sha256(data).hexdigest()


def file_photo(data_dir: Path, image: bytes | None = None, *, kind: str = "capture",
               **overrides: Any) -> tuple[str, Path]:
    """File a photo the way the receiver does; returns (capture id, path of the JPEG)."""
    capture_id = new_id()
    staged, digest = _staged(data_dir, image if image is not None else jpeg_bytes())
    payload = file_capture(data_dir / "inbox", capture_id, metadata(**overrides), staged,
                           image_sha256=digest, station_id=STATION_ID, kind=kind,
                           received_at="2025-03-04T10:11:13Z", sealed_sha256="0" * 64,
                           sealed_path=f"sealed/{kind}/2025-03/{capture_id}.sealed")
    return capture_id, payload


def file_document(data_dir: Path, **overrides: Any) -> tuple[str, Path]:
    """A filed document (its PDF), filed the way the receiver files one."""
    return file_photo(data_dir, pdf_bytes(), kind="document", **overrides)


def file_amendment(payload: Path, capture_id: str, *, changes: dict | None = None,
                   retract: bool = False, reason: str | None = None,
                   at: str = "2025-03-04T11:00:00+00:00") -> tuple[str, Path]:
    """Apply an amendment (or retraction) the way the receiver does; returns (its id, the
    history file: what the receiver records as the amendment's ``filed_path``).

    ``payload`` is where the capture was first filed, ``DIR/inbox/<issuer>/<patient>/``."""
    amendment_id = new_id()
    data_dir = payload.parents[3]
    filed = apply_amendment(data_dir, payload, amendment_id, {
        "amends": capture_id, "at": at, "retract": retract, "changes": changes or {},
        "operator": "dr.who", "reason": reason}, station_id=STATION_ID, received_at=at,
        sealed_sha256="1" * 64, sealed_path=f"sealed/amendment/2025-03/{amendment_id}.sealed")
    assert filed.history is not None
    return amendment_id, filed.history


def write_config(data_dir: Path, *destinations: dict[str, Any], **top: Any) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in top.items()]
    lines += ["[retry]", "initial_s = 0.05", "max_s = 0.2"]
    for dest in destinations:
        lines.append("[[destination]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in dest.items()]
    (data_dir / "forwarding.toml").write_text("\n".join(lines) + "\n")


# -- a loopback FHIR server and STOW-RS sink --------------------------------------------------

@dataclass
class FakeServers:
    """Records what arrives. ``down`` makes every request answer 503; ``refuse`` 400."""

    fhir: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> resource
    stowed: list[bytes] = field(default_factory=list)  # raw multipart bodies
    requests: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False
    refuse: bool = False
    refuse_sops: set[str] = field(default_factory=set)  # STOW: 202, these listed as failed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, kind: str, identifier: str) -> list[tuple[str, dict[str, Any]]]:
        system, _, value = identifier.partition("|")
        found = []
        for rid, res in self.fhir.items():
            ids = list(res.get("identifier", []))
            if "masterIdentifier" in res:
                ids.append(res["masterIdentifier"])
            if res["resourceType"] == kind and any(
                    i.get("system") == system and i.get("value") == value for i in ids):
                found.append((rid, res))
        return found


def _handler(state: FakeServers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            with state.lock:
                state.requests.append((self.command, parts.path))
                if state.down:
                    return self._reply(503)
                if state.refuse:
                    return self._reply(400)
                if parts.path == "/dicom-web/studies" and self.command == "POST":
                    state.stowed.append(body)
                    failed = [{"00081155": {"vr": "UI", "Value": [uid]},
                               "00081197": {"vr": "US", "Value": [42752]}}
                              for uid in sorted(state.refuse_sops)
                              if uid.encode() in body]
                    if failed:
                        return self._reply(202, {"00081198": {"vr": "SQ", "Value": failed}})
                    return self._reply(200, {})
                kind = parts.path.rsplit("/", 1)[-1]
                if self.command == "POST":
                    wanted = parse_qs(self.headers.get("If-None-Exist", "")).get("identifier")
                    if wanted and state.find(kind, unquote(wanted[0])):
                        return self._reply(200)
                    state.fhir[str(len(state.fhir) + 1)] = json.loads(body)
                    return self._reply(201)
                if self.command == "PUT":
                    wanted = parse_qs(parts.query).get("identifier")
                    found = state.find(kind, wanted[0]) if wanted else []
                    rid = found[0][0] if found else str(len(state.fhir) + 1)
                    state.fhir[rid] = json.loads(body)
                    return self._reply(200 if found else 201)
            return self._reply(404)

        do_POST = do_PUT = _handle

    return Handler


class Running:
    def __init__(self) -> None:
        self.state = FakeServers()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
