"""The receiver's HTTP API (plain WSGI): enrolment, station status, signed uploads with receipts.

Plain WSGI rather than a framework because the one demanding route is a streamed ``PUT`` of
up to tens of megabytes, which needs exact control over how many body bytes are read, when,
and what is answered if the client stops halfway. Routes::

    POST /v1/enrol                      token + public key, signed by that key
    GET  /v1/station                    the caller's status (pending / approved / revoked)
    PUT  /v1/captures/{capture_id}      sealed capture -> stored, opened, filed, receipt
    PUT  /v1/amendments/{amendment_id}  sealed amendment -> stored, filed beside its capture
    PUT  /v1/audit/{batch_id}           sealed audit records -> stored, appended per station

Order of checks for a PUT: id shape, declared length (411/413), signature (401), replay
(401), station status (403), then the body streams to a temp file while being hashed; the
hash must equal the signed digest (400); the envelope's header must name this kind, item and
the authenticated station (422 ``envelope_mismatch``), its Ed25519 signature must verify with
that station's registered key and it must open with the practice key (422 ``bad_envelope``;
:mod:`practice.intake` streams the parts to staged durable files in bounded memory, and
nothing is released before the signature holds). An amendment or retraction must name a
capture of the same station (403 ``not_your_capture``); one that arrives before its capture is
kept sealed and filed when that capture arrives, only if the same station made it. Only then
is anything filed (:mod:`practice.filing`: the receiver's own sidecar fields are never taken
from metadata), and only after the files and the database row are durable is a receipt
signed. Every refusal files nothing.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync import envelope
from sync.durable import DurableFile, move_durably
from sync.protocol import (
    MAX_ITEM_BYTES,
    MAX_JSON_BYTES,
    PATH_KINDS,
    PROTOCOL_VERSION,
    SIGNATURE_MAX_AGE_SECONDS,
    STATION_ID_RE,
    Receipt,
    is_item_id,
    sign_receipt,
    station_id_for,
)
from sync.signing import RequestVerifier, SignatureRejected, VerifiedRequest
from sync.strictparse import ParseError, loads_json

from .capacity import Capacity, is_disk_full
from .filing import apply_amendment, file_capture
from .forwarding.queue import ForwardQueue
from .intake import OpenedToFiles, open_to_files
from .keys import ReceiverKeys
from .leftovers import remove_leftover_temps
from .patientfile import PatientIndex
from .payload import ContentRefused
from .store import Item, ReceiverStore, TokenError, utc_now

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
#: The parts of each kind that are kept (staged beside the upload, then moved into place).
STAGED_PARTS = {"capture": ("image", "preview"), "document": ("pdf", "preview"),
                "audit": ("records",)}
#: The part of each filed kind that is the item itself (the preview becomes its thumbnail).
MAIN_PART = {"capture": "image", "document": "pdf"}
StartResponse = Callable[..., Any]


class HttpError(Exception):
    """Answer with ``status`` and a short JSON error code; never echoes request data."""

    def __init__(self, status: int, code: str, detail: str = "", *, drain: bool = True,
                 retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.drain = drain
        self.retry_after = retry_after


REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           411: "Length Required", 413: "Content Too Large", 422: "Unprocessable Content",
           500: "Internal Server Error", 503: "Service Unavailable"}


class ReceiverApp:
    """WSGI callable. ``data_dir`` holds ``inbox/``, ``sealed/``, ``incoming/`` and the DB."""

    def __init__(self, data_dir: Path, keys: ReceiverKeys, store: ReceiverStore, *,
                 max_item_bytes: int = MAX_ITEM_BYTES, index: PatientIndex | None = None,
                 forward_queue: ForwardQueue | None = None,
                 capacity: Capacity | None = None) -> None:
        self.data_dir = Path(data_dir)
        #: Full disk -> 503 with Retry-After (see :mod:`.capacity`).
        self.capacity = capacity if capacity is not None else Capacity(self.data_dir)
        self.forward_queue = forward_queue
        self.keys = keys
        self.store = store
        self.index = index if index is not None else PatientIndex(self.data_dir)
        self.max_item_bytes = max_item_bytes
        self.inbox = self.data_dir / "inbox"
        self.sealed = self.data_dir / "sealed"
        self.incoming = self.data_dir / "incoming"
        self.audit_dir = self.data_dir / "audit"
        for directory in (self.inbox, self.sealed, self.incoming, self.audit_dir):
            directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        for leftover in self.incoming.iterdir():  # partial uploads from before a crash
            leftover.unlink(missing_ok=True)
        remove_leftover_temps(self.data_dir)  # half-written files of a killed server
        self._file_lock = threading.Lock()
        self._verifier = RequestVerifier(self._station_key)

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        try:
            status, body = self._route(method, path, environ)
        except HttpError as exc:
            if exc.drain:
                _drain(environ, self.max_item_bytes)
            log.info("refused %s %s: %d %s", method, _loggable(path), exc.status, exc.code)
            payload = {"error": exc.code}
            if exc.detail:
                payload["detail"] = exc.detail
            status, body = exc.status, json.dumps(payload).encode()
            return self._respond(start_response, status, body, close=not exc.drain,
                                 retry_after=exc.retry_after)
        except Exception as exc:
            if is_disk_full(exc):  # not this item's fault: every station pauses until told
                self.capacity.mark_full()
                log.error("disk full on %s %s: answering 503", method, _loggable(path))
                return self._respond(start_response, 503, b'{"error": "receiver_full"}',
                                     close=True, retry_after=self.capacity.retry_after_seconds)
            log.exception("internal error on %s %s", method, _loggable(path))
            status, body = 500, b'{"error": "internal"}'
        return self._respond(start_response, status, body)

    def _respond(self, start_response: StartResponse, status: int, body: bytes, *,
                 close: bool = False, retry_after: int | None = None) -> list[bytes]:
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Cache-Control", "no-store"),
        ]
        if close:
            headers.append(("Connection", "close"))
        if retry_after is not None:
            headers.append(("Retry-After", str(int(retry_after))))
        start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
        return [body]

    def _route(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, bytes]:
        prefix = f"/v{PROTOCOL_VERSION}/"
        if not path.startswith(prefix):
            raise HttpError(404, "not_found")
        parts = path[len(prefix):].split("/")
        if parts == ["enrol"]:
            if method != "POST":
                raise HttpError(405, "method_not_allowed")
            return self._enrol(environ)
        if parts == ["station"]:
            if method != "GET":
                raise HttpError(405, "method_not_allowed")
            return self._station_status(path, environ)
        if len(parts) == 2 and parts[0] in PATH_KINDS:
            if method != "PUT":
                raise HttpError(405, "method_not_allowed")
            if not is_item_id(parts[1]):
                raise HttpError(400, "bad_item_id")
            return self._put_item(PATH_KINDS[parts[0]], parts[1], path, environ)
        raise HttpError(404, "not_found")

    # -- authentication -----------------------------------------------------------------------

    def _station_key(self, key_id: str) -> Ed25519PublicKey | None:
        if not STATION_ID_RE.fullmatch(key_id):
            return None
        station = self.store.station(key_id)
        return Ed25519PublicKey.from_public_bytes(station.public_key) if station else None

    def _authenticate(self, method: str, path: str, environ: dict[str, Any],
                      lookup: Callable[[str], Ed25519PublicKey | None] | None = None,
                      *, remember: bool = True) -> VerifiedRequest:
        """Verify the request's signature, then (``remember``) record its nonce: nothing is
        written for a request whose signature does not verify."""
        headers = _headers(environ)
        verifier = self._verifier if lookup is None else RequestVerifier(lookup)
        try:
            verified = verifier.verify(method, path, headers)
        except SignatureRejected as exc:
            log.info("signature refused on %s %s: %s", method, _loggable(path),
                     _loggable(exc.reason))
            raise HttpError(401, "bad_signature", str(exc)) from None
        if verified.length != _content_length(environ):
            raise HttpError(400, "length_mismatch")
        if remember and not self.store.remember_nonce(verified.key_id, verified.nonce,
                                                      SIGNATURE_MAX_AGE_SECONDS * 2):
            raise HttpError(401, "replayed")
        return verified

    def _seen(self, verified: VerifiedRequest, *, delivered: bool = False) -> None:
        """Record the contact and the station's signed report (queue depth, version)."""
        self.store.record_contact(verified.key_id, queue_depth=verified.report.queue_depth,
                                  version=verified.report.version, delivered=delivered)

    def _require_approved(self, station_id: str) -> None:
        station = self.store.station(station_id)
        if station is None:
            raise HttpError(401, "unknown_station")
        if station.status != "approved":
            raise HttpError(403, station.status)

    # -- enrolment ----------------------------------------------------------------------------

    def _enrol(self, environ: dict[str, Any]) -> tuple[int, bytes]:
        length = _content_length(environ)
        if length is None:
            raise HttpError(411, "length_required", drain=False)
        if length > MAX_JSON_BYTES:
            raise HttpError(413, "too_large", drain=False)
        body = _read_exact(environ, length)
        token, public_raw, name = _enrol_request(body)
        station_id = station_id_for(public_raw)
        public_key = Ed25519PublicKey.from_public_bytes(public_raw)
        # Signed by the key it registers (proof of possession). No nonce is recorded: the
        # token is the replay protection (used once, in the transaction that registers the
        # key), so a request without a valid token writes nothing at all.
        verified = self._authenticate(
            "POST", "/v1/enrol", environ,
            lookup=lambda kid: public_key if kid == station_id else None, remember=False)
        if verified.sha256_hex != hashlib.sha256(body).hexdigest():
            raise HttpError(400, "digest_mismatch")
        try:
            station = self.store.redeem_token(token, station_id, public_raw,
                                              name.strip() or station_id)
        except TokenError as exc:
            log.info("enrolment of %s refused: %s", station_id, exc.reason)
            raise HttpError(403, "token", str(exc)) from None
        self._seen(verified)
        log.info("station %s enrolled (%s)", station_id, station.status)
        return 200, json.dumps({
            "v": PROTOCOL_VERSION,
            "station_id": station_id,
            "status": station.status,
            "receiver": self.keys.name,
            "practice_public_key": base64.b64encode(self.keys.practice_public_raw).decode(),
            "receipt_public_key": base64.b64encode(self.keys.receipt_public_raw).decode(),
        }).encode()

    def _station_status(self, path: str, environ: dict[str, Any]) -> tuple[int, bytes]:
        verified = self._authenticate("GET", path, environ)
        self._seen(verified)
        station = self.store.station(verified.key_id)
        assert station is not None
        return 200, json.dumps({"station_id": station.station_id,
                                "status": station.status}).encode()

    # -- uploads ------------------------------------------------------------------------------

    def _put_item(self, kind: str, item_id: str, path: str,
                  environ: dict[str, Any]) -> tuple[int, bytes]:
        length = _content_length(environ)
        if length is None:
            raise HttpError(411, "length_required", drain=False)
        if length > self.max_item_bytes:
            raise HttpError(413, "too_large", drain=False)
        verified = self._authenticate("PUT", path, environ)
        self._seen(verified)
        self._require_approved(verified.key_id)
        known = self.store.item(item_id)
        if known is not None:
            _drain(environ, length)
            return self._repeat(known, kind, verified)
        if not self.capacity.room_for(length):
            raise HttpError(503, "receiver_full", drain=False,
                            retry_after=self.capacity.retry_after_seconds)
        tmp = self._receive(environ, item_id, length, verified.sha256_hex)
        try:
            return self._accept(kind, item_id, tmp, length, verified)
        finally:
            tmp.unlink(missing_ok=True)

    def _repeat(self, known: Item, kind: str, verified: VerifiedRequest) -> tuple[int, bytes]:
        same = (known.kind, known.station_id, known.sha256) == (
            kind, verified.key_id, verified.sha256_hex)
        if not same:
            raise HttpError(409, "conflict", "this id was already delivered with other content")
        return 200, known.receipt

    def _receive(self, environ: dict[str, Any], item_id: str, length: int,
                 sha256_hex: str) -> Path:
        """Stream exactly ``length`` body bytes to a temp file, hashing; fsync; check digest."""
        part = self.incoming / f"{item_id}.{secrets.token_hex(6)}.part"
        stream = environ["wsgi.input"]
        digest = hashlib.sha256()
        remaining = length
        with DurableFile(part, 0o640, replace=False) as out:
            while remaining:
                chunk = stream.read(min(READ_CHUNK, remaining))
                if not chunk:
                    raise HttpError(400, "truncated_body", drain=False)
                digest.update(chunk)
                out.write(chunk)
                remaining -= len(chunk)
            if digest.hexdigest() != sha256_hex:
                raise HttpError(400, "digest_mismatch")
        return part

    def _accept(self, kind: str, item_id: str, tmp: Path, size: int,
                verified: VerifiedRequest) -> tuple[int, bytes]:
        station_id = verified.key_id
        try:
            header = envelope.read_header(tmp)
        except envelope.EnvelopeError as exc:
            raise HttpError(422, "bad_envelope", str(exc)[:200]) from None
        if (header.kind, header.item_id, header.station_id) != (kind, item_id, station_id):
            raise HttpError(422, "envelope_mismatch",
                            "the envelope names another kind, item or station")
        station_key = self._station_key(station_id)
        assert station_key is not None  # authenticated with it a moment ago
        staged = {part: tmp.with_suffix(f".{part}") for part in STAGED_PARTS.get(kind, ())}
        try:
            try:
                result = open_to_files(tmp, staged, self.keys.practice_private, station_key)
            except envelope.EnvelopeError as exc:
                raise HttpError(422, "bad_envelope", str(exc)[:200]) from None
            except ContentRefused as exc:  # the reason names the part and rule, no content
                log.warning("refused %s %s from %s: %s", kind, item_id, station_id, exc)
                raise HttpError(422, "bad_content",
                                "the item's content is not what its kind must be") from None
            with self._file_lock:
                known = self.store.item(item_id)
                if known is not None:  # a concurrent upload of the same item won
                    return self._repeat(known, kind, verified)
                if kind == "amendment":
                    self._check_amends(header.subject or "", station_id)
                received_at = utc_now()
                month = received_at[:7]
                sealed_dir = self.sealed / kind / month
                sealed_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
                sealed_rel = f"sealed/{kind}/{month}/{item_id}.sealed"
                filed = self._file(result, received_at, verified.sha256_hex, sealed_rel)
                self._forward(kind, item_id, filed)
                move_durably(tmp, self.data_dir / sealed_rel)
                receipt = Receipt(
                    v=1, receiver=self.keys.name, station_id=station_id, kind=kind,
                    item_id=item_id, sha256=verified.sha256_hex, size=size,
                    received_at=received_at,
                )
                body = sign_receipt(receipt, self.keys.receipt_private)
                self.store.record_item(Item(
                    item_id=item_id, kind=kind, station_id=station_id,
                    sha256=verified.sha256_hex, size=size, received_at=received_at,
                    sealed_path=sealed_rel, filed_path=filed, receipt=body,
                    subject=header.subject,
                ))
                if kind in MAIN_PART and filed:
                    self._apply_waiting(item_id, station_id)
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
        self._seen(verified, delivered=True)
        log.info("received %s %s from %s (%d bytes)", kind, item_id, station_id, size)
        return 201, body

    def _check_amends(self, capture_id: str, station_id: str) -> None:
        """An amendment names a capture of the station that sends it (or one not yet here)."""
        capture = self.store.item(capture_id)
        if capture is None:
            return  # kept sealed; filed when its capture arrives, if from this station
        if capture.kind not in MAIN_PART:
            raise HttpError(422, "not_a_capture", "an amendment names a capture or document")
        if capture.station_id != station_id:
            raise HttpError(403, "not_your_capture",
                            "only the station that made a capture can amend or retract it")

    def _file(self, result: OpenedToFiles, received_at: str, sha256_hex: str,
              sealed_rel: str) -> str | None:
        opened = result.opened
        if opened.kind in MAIN_PART:
            main = file_capture(self.inbox, opened.item_id, opened.metadata,
                                result.files[MAIN_PART[opened.kind]],
                                image_sha256=result.sha256[MAIN_PART[opened.kind]],
                                preview=_nonempty(result.files.get("preview")),
                                kind=opened.kind, station_id=opened.station_id,
                                received_at=received_at, sealed_sha256=sha256_hex,
                                sealed_path=sealed_rel)
            self.index.ingest(main.with_name(main.name.removesuffix(main.suffix) + ".json"))
            return str(main.relative_to(self.data_dir))
        if opened.kind == "amendment":
            capture = self.store.item(opened.capture_id or "")
            if capture is None or not capture.filed_path:
                return None  # kept sealed: filed by _apply_waiting when the capture arrives
            return self._amend(capture, opened.item_id, opened.metadata,
                               station_id=opened.station_id, received_at=received_at,
                               sealed_sha256=sha256_hex, sealed_path=sealed_rel)
        station_dir = self.audit_dir / opened.station_id
        station_dir.mkdir(mode=0o750, exist_ok=True)
        records = station_dir / f"{opened.item_id}.jsonl"
        move_durably(result.files["records"], records)
        return str(records.relative_to(self.data_dir))

    def _amend(self, capture: Item, amendment_id: str, metadata: dict[str, Any], *,
               station_id: str, received_at: str, sealed_sha256: str,
               sealed_path: str) -> str:
        """Apply an amendment to its capture's files and the index; the history's path.

        A retraction moves the capture to quarantine: its row's ``filed_path`` follows.
        """
        assert capture.filed_path is not None
        filed = apply_amendment(self.data_dir, self.data_dir / capture.filed_path,
                                amendment_id, metadata, station_id=station_id,
                                received_at=received_at, sealed_sha256=sealed_sha256,
                                sealed_path=sealed_path)
        now = str(filed.file.relative_to(self.data_dir))
        if now != capture.filed_path:
            self.store.set_filed_path(capture.item_id, now)
        self.index.ingest(filed.sidecar)
        assert filed.history is not None
        return str(filed.history.relative_to(self.data_dir))

    def _apply_waiting(self, capture_id: str, station_id: str) -> None:
        """Apply the amendments that arrived before this capture, if its station sent them.

        One from another station stays sealed and unfiled: it never touches this capture.
        """
        for waiting in self.store.waiting_amendments(capture_id):
            if waiting.station_id != station_id:
                log.warning("amendment %s names a capture of another station; not applied",
                            waiting.item_id)
                continue
            station_key = self._station_key(waiting.station_id)
            if station_key is None:
                continue
            try:
                opened = envelope.open_envelope(self.data_dir / waiting.sealed_path,
                                                self.keys.practice_private, station_key)
            except (envelope.EnvelopeError, OSError):
                log.exception("kept amendment %s no longer opens", waiting.item_id)
                continue
            capture = self.store.item(capture_id)
            assert capture is not None
            history = self._amend(capture, waiting.item_id, opened.metadata,
                                  station_id=waiting.station_id,
                                  received_at=waiting.received_at,
                                  sealed_sha256=waiting.sha256,
                                  sealed_path=waiting.sealed_path)
            self.store.set_filed_path(waiting.item_id, history)
            self._forward("amendment", waiting.item_id, history)

    def _forward(self, kind: str, item_id: str, filed: str | None) -> None:
        """Queue what was just filed for the PACS and the EHR (called in the filing lock,
        before the receipt: what a station was told is received is also queued). An
        amendment is filed at its capture's history file; the queue finds the capture."""
        if filed and self.forward_queue is not None:
            self.forward_queue.enqueue(kind, item_id, filed)


# -- small WSGI helpers --------------------------------------------------------------------------


def _enrol_request(body: bytes) -> tuple[str, bytes, str]:
    """(token, raw public key, station name) from an enrolment body; any other input, however
    hostile (deep nesting, huge numbers, duplicate keys, invalid UTF-8), is a 400."""
    try:
        request = loads_json(body)
    except ParseError:
        raise HttpError(400, "malformed_json") from None
    if not isinstance(request, dict):
        raise HttpError(400, "malformed_request")
    token, key, name = (request.get("token"), request.get("public_key"),
                        request.get("station_name", ""))
    if not (isinstance(token, str) and isinstance(key, str) and isinstance(name, str)
            and 0 < len(token) <= 128 and len(key) <= 64 and len(name) <= 64):
        raise HttpError(400, "malformed_request")
    try:
        public_raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise HttpError(400, "malformed_request") from None
    if len(public_raw) != 32:
        raise HttpError(400, "malformed_request")
    return token, public_raw, name


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
    if "CONTENT_LENGTH" in environ:
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    if "CONTENT_TYPE" in environ:
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def _content_length(environ: dict[str, Any]) -> int | None:
    raw = environ.get("CONTENT_LENGTH") or ""
    if not raw.isdigit() or len(raw) > 12:
        return None
    return int(raw)


def _read_exact(environ: dict[str, Any], length: int) -> bytes:
    data = environ["wsgi.input"].read(length) if length else b""
    if len(data) != length:
        raise HttpError(400, "truncated_body", drain=False)
    return data


def _drain(environ: dict[str, Any], limit: int) -> None:
    """Read and drop a refused body (up to ``limit``) so the client can read our answer."""
    length = _content_length(environ)
    if not length or length > limit:
        return
    stream = environ["wsgi.input"]
    remaining = length
    try:
        while remaining:
            chunk = stream.read(min(READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except OSError:
        return


def _nonempty(path: Path | None) -> Path | None:
    """A staged preview, or None when the station sent an empty one (nothing to show)."""
    if path is None or not path.exists() or path.stat().st_size == 0:
        return None
    return path


def _loggable(path: str) -> str:
    """Paths hold only protocol ids, but never log more than a short, printable prefix."""
    return "".join(ch if ch.isprintable() else "?" for ch in path[:80])
