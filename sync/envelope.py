"""Envelope format v1: the one reader and writer of ``.sealed`` files, for station and receiver.

A sealed file holds one item (a capture, an amendment naming a capture, or a batch of audit
records) that only its recipients can open. It is specified byte for byte in
``docs/envelope.md``; this module is the reference implementation, and the test vectors in
``docs/envelope-vectors.json`` are checked against it.

Layout (all integers big-endian)::

    magic   "CAPSEAL" (7 bytes) + version byte 0x01
    u32     length of the header
    header  UTF-8 JSON object (the writer emits sorted keys, no spaces)
    part 0  ChaCha20-Poly1305 ciphertext + 16-byte tag
    part 1  ...

Everything up to the end of the header is the *associated data* of every part, so a single
changed header byte (a recipient, a length, the station id) makes the payload refuse to open.
Each item gets a fresh 32-byte data key; part ``i`` is encrypted under it with the nonce
``i`` as 12 big-endian bytes. The data key is sealed to each recipient with HPKE (RFC 9180,
base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305); the HPKE ``info``
binds the kind, the station id and the item id, so a key wrap cannot be moved to another item.

Every failure raises :class:`EnvelopeError` with a message that says what is wrong and never
contains key material or payload bytes.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from .chacha_stream import PartAuthenticator, PartEncryptor

MAGIC = b"CAPSEAL"
VERSION = 1
PREFIX = MAGIC + bytes([VERSION])
SUFFIX = ".sealed"
TAG_LEN = 16
DATA_KEY_LEN = 32
#: HPKE output for a 32-byte data key: enc (32) + ciphertext (32) + tag (16).
WRAP_LEN = 32 + DATA_KEY_LEN + TAG_LEN
MAX_HEADER = 64 * 1024
MAX_PART = 1 << 30
MAX_RECIPIENTS = 8
INFO_LABEL = b"capture-station envelope v1"
#: RFC 9180 identifiers of the one suite v1 uses, written into every header.
SUITE_IDS = {"kem": 0x0020, "kdf": 0x0001, "aead": 0x0003}

#: Parts each kind carries, in order. ``metadata`` is always a JSON object.
KIND_PARTS: dict[str, tuple[str, ...]] = {
    "capture": ("metadata", "image", "preview"),
    "amendment": ("metadata",),
    "audit": ("metadata", "records"),
}

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
_STATION_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_RID_RE = re.compile(r"[a-z0-9._:-]{1,64}")
_KID_RE = re.compile(r"[0-9a-f]{16}")
_HEADER_KEYS = {"v", "suite", "kind", "station", "id", "subject", "recipients", "parts"}

#: ``wrap(data_key, recipient_public_key, info) -> bytes``; the default is single-shot HPKE.
KeyWrapper = Callable[[bytes, X25519PublicKey, bytes], bytes]


class EnvelopeError(ValueError):
    """A sealed file cannot be written or opened; the message says why (never a secret)."""


@dataclass(frozen=True)
class Recipient:
    """One key wrap: ``rid`` is the sealer's label, ``kid`` the key's fingerprint."""

    rid: str
    kid: str
    enc: bytes


@dataclass(frozen=True)
class PartInfo:
    name: str
    length: int  # plaintext bytes; the ciphertext is TAG_LEN longer


@dataclass(frozen=True)
class Header:
    """What anyone can read without a key."""

    version: int
    kind: str
    station_id: str
    item_id: str
    subject: str | None
    recipients: tuple[Recipient, ...]
    parts: tuple[PartInfo, ...]
    raw: bytes  # magic .. end of header JSON: the associated data of every part

    @property
    def payload_offset(self) -> int:
        return len(self.raw)

    @property
    def total_size(self) -> int:
        """The exact size of a complete sealed file with this header."""
        return self.payload_offset + sum(p.length + TAG_LEN for p in self.parts)

    @property
    def capture_id(self) -> str | None:
        """The capture concerned: the item itself, the amended capture, or None for audit."""
        if self.kind == "capture":
            return self.item_id
        return self.subject


@dataclass(frozen=True)
class OpenedEnvelope:
    header: Header
    recipient_id: str
    metadata: dict[str, Any]
    parts: dict[str, bytes]

    @property
    def kind(self) -> str:
        return self.header.kind

    @property
    def station_id(self) -> str:
        return self.header.station_id

    @property
    def item_id(self) -> str:
        return self.header.item_id

    @property
    def capture_id(self) -> str | None:
        return self.header.capture_id

    @property
    def image(self) -> bytes:
        return self.parts.get("image", b"")

    @property
    def preview(self) -> bytes:
        return self.parts.get("preview", b"")

    @property
    def records(self) -> bytes:
        return self.parts.get("records", b"")


# -- helpers shared by writer and reader ------------------------------------------------------


def key_id(public_key: X25519PublicKey | bytes) -> str:
    """16 hex digits naming a recipient key: the start of SHA-256 of its raw 32 bytes."""
    raw = public_key if isinstance(public_key, bytes) else _raw_public(public_key)
    if len(raw) != 32:
        raise EnvelopeError("an X25519 public key is 32 bytes")
    return hashlib.sha256(raw).hexdigest()[:16]


def hpke_info(kind: str, station_id: str, item_id: str) -> bytes:
    """The HPKE ``info``: label, kind, station id and item id joined by NUL bytes."""
    return b"\x00".join((INFO_LABEL, kind.encode(), station_id.encode(), item_id.encode()))


def part_nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _raw_public(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _hpke_wrap(data_key: bytes, public_key: X25519PublicKey, info: bytes) -> bytes:
    return _SUITE.encrypt(data_key, public_key, info=info)


def _canonical_uuid(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise EnvelopeError(f"{what} must be a UUID string")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise EnvelopeError(f"{what} is not a UUID") from None
    if str(parsed) != value:
        raise EnvelopeError(f"{what} must be a lowercase hyphenated UUID")
    return value


def _check_station(value: object) -> str:
    if not isinstance(value, str) or not _STATION_RE.fullmatch(value):
        raise EnvelopeError("station id must be 1-128 of A-Z a-z 0-9 . _ : -")
    return value


def _check_item(kind: str, item_id: str, subject: str | None) -> None:
    if kind not in KIND_PARTS:
        raise EnvelopeError(f"unknown envelope kind {kind!r}; known: {', '.join(KIND_PARTS)}")
    _canonical_uuid(item_id, "item id")
    if kind == "amendment":
        if subject is None:
            raise EnvelopeError("an amendment must name the capture it amends (subject)")
        _canonical_uuid(subject, "subject")
    elif subject is not None:
        raise EnvelopeError(f"a {kind} envelope has no subject")


# -- writing ----------------------------------------------------------------------------------


def encode_metadata(metadata: Mapping[str, Any]) -> bytes:
    """Metadata as stored in the ``metadata`` part: compact UTF-8 JSON, sorted keys."""
    if not isinstance(metadata, Mapping):
        raise EnvelopeError("metadata must be a mapping")
    try:
        return json.dumps(
            dict(metadata), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            allow_nan=False,
        ).encode()
    except (TypeError, ValueError):
        raise EnvelopeError("metadata must be JSON-serialisable (str keys, finite numbers)") \
            from None


#: A part's plaintext: one buffer, or pieces to be concatenated (never joined by the sealer).
PartData = bytes | bytearray | memoryview | Sequence[bytes | bytearray | memoryview]


def part_lengths(parts: Mapping[str, PartData]) -> dict[str, int]:
    """The plaintext length of each part (a part may be given in pieces), for plan_envelope."""
    return {name: sum(len(v) for v in _pieces(data)) for name, data in parts.items()}


def _pieces(data: PartData) -> list[memoryview]:
    if isinstance(data, bytes | bytearray | memoryview):
        return [memoryview(data).cast("B")]
    return [memoryview(piece).cast("B") for piece in data]


@dataclass(frozen=True)
class EnvelopePlan:
    """Everything about an envelope that is fixed before any byte is encrypted.

    The header's length is known here already (a key wrap always has the same size), so a
    sealer can place the ciphertext of each part in the file before the HPKE wraps exist:
    see :func:`seal_into`. :meth:`associated_data` computes the wraps (the slow part).
    """

    kind: str
    station_id: str
    item_id: str
    subject: str | None
    recipients: tuple[tuple[str, X25519PublicKey], ...]
    part_lengths: tuple[tuple[str, int], ...]
    data_key: bytes
    wrap: KeyWrapper
    aad_length: int

    @property
    def offsets(self) -> list[int]:
        """Where each part's ciphertext starts in the sealed file."""
        out, at = [], self.aad_length
        for _name, length in self.part_lengths:
            out.append(at)
            at += length + TAG_LEN
        return out

    @property
    def total_size(self) -> int:
        return self.aad_length + sum(n + TAG_LEN for _name, n in self.part_lengths)

    def _header(self, wraps: Sequence[bytes]) -> bytes:
        entries = [{"rid": rid, "kid": key_id(key), "enc": base64.b64encode(enc).decode()}
                   for (rid, key), enc in zip(self.recipients, wraps, strict=True)]
        header = {
            "v": VERSION,
            "suite": SUITE_IDS,
            "kind": self.kind,
            "station": self.station_id,
            "id": self.item_id,
            "subject": self.subject,
            "recipients": entries,
            "parts": [{"name": name, "len": n} for name, n in self.part_lengths],
        }
        header_json = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        if len(header_json) > MAX_HEADER:
            raise EnvelopeError("header too large")
        return PREFIX + struct.pack(">I", len(header_json)) + header_json

    def associated_data(self) -> bytes:
        """Wrap the data key to every recipient; return the file's start up to the payload."""
        info = hpke_info(self.kind, self.station_id, self.item_id)
        wraps = []
        for _rid, public_key in self.recipients:
            enc = self.wrap(self.data_key, public_key, info)
            if len(enc) != WRAP_LEN:
                raise EnvelopeError("key wrap has the wrong length")
            wraps.append(enc)
        aad = self._header(wraps)
        if len(aad) != self.aad_length:  # a wrap's size is fixed, so this cannot move
            raise EnvelopeError("header length changed while sealing")
        return aad


def plan_envelope(
    kind: str,
    part_lengths: Mapping[str, int],
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    subject: str | None = None,
    _data_key: bytes | None = None,
    _wrap: KeyWrapper | None = None,
) -> EnvelopePlan:
    """Validate an item and draw its fresh data key (see :class:`EnvelopePlan`)."""
    _check_item(kind, item_id, subject)
    _check_station(station_id)
    wanted = KIND_PARTS[kind]
    if set(part_lengths) != set(wanted):
        raise EnvelopeError(f"a {kind} envelope carries exactly the parts {', '.join(wanted)}")
    for name in wanted:
        if part_lengths[name] > MAX_PART:
            raise EnvelopeError(f"part {name!r} is larger than {MAX_PART} bytes")
    if not recipients:
        raise EnvelopeError("an envelope needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise EnvelopeError(f"at most {MAX_RECIPIENTS} recipients")
    seen: set[str] = set()
    for rid, public_key in recipients:
        if not isinstance(rid, str) or not _RID_RE.fullmatch(rid):
            raise EnvelopeError("recipient ids are 1-64 of a-z 0-9 . _ : -")
        if rid in seen:
            raise EnvelopeError(f"recipient id {rid!r} given twice")
        seen.add(rid)
        if not isinstance(public_key, X25519PublicKey):
            raise EnvelopeError(f"recipient {rid!r} needs an X25519 public key")
    data_key = os.urandom(DATA_KEY_LEN) if _data_key is None else bytes(_data_key)
    if len(data_key) != DATA_KEY_LEN:
        raise EnvelopeError("the data key is 32 bytes")
    plan = EnvelopePlan(kind, station_id, item_id, subject, tuple(recipients),
                        tuple((name, int(part_lengths[name])) for name in wanted), data_key,
                        _wrap or _hpke_wrap, 0)
    aad_length = len(plan._header([bytes(WRAP_LEN)] * len(recipients)))
    return dataclasses.replace(plan, aad_length=aad_length)


def _begin(
    kind: str,
    parts: Mapping[str, PartData],
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    subject: str | None,
    data_key: bytes | None,
    wrap: KeyWrapper | None,
) -> tuple[bytes, bytes, list[list[memoryview]]]:
    """Validate, draw the data key, wrap it; return (AAD, data key, plaintext pieces per part)."""
    pieces = _part_pieces(kind, parts)
    plan = plan_envelope(kind, part_lengths(parts), recipients=recipients,
                         station_id=station_id, item_id=item_id, subject=subject,
                         _data_key=data_key, _wrap=wrap)
    return plan.associated_data(), plan.data_key, pieces


def _part_pieces(kind: str, parts: Mapping[str, PartData]) -> list[list[memoryview]]:
    """Each part of ``kind`` in order, as byte views (a part may be given in pieces)."""
    wanted = KIND_PARTS[kind]
    if set(parts) != set(wanted):
        raise EnvelopeError(f"a {kind} envelope carries exactly the parts {', '.join(wanted)}")
    pieces = []
    for name in wanted:
        try:
            pieces.append(_pieces(parts[name]))
        except TypeError:
            raise EnvelopeError(f"part {name!r} must be bytes") from None
    return pieces


#: The largest part, if at least this large, is sealed in stretches by seal_into.
STREAM_MIN = 256 * 1024
#: One stretch: small enough that a writer gets the first one early, large enough that the
#: per-call overhead does not show.
STREAM_CHUNK = 512 * 1024
#: With a worker, a part at least this large is encrypted in two halves at once.
SPLIT_MIN = 1 << 20


def seal_into(
    plan: EnvelopePlan,
    parts: Mapping[str, PartData],
    out: memoryview,
    *,
    on_ready: Callable[[int, int], None] | None = None,
    worker: Executor | None = None,
) -> None:
    """Seal ``parts`` as planned into ``out`` (at least ``plan.total_size`` bytes).

    The result is the file :func:`seal_chunks` writes with the plan's data key, built so a
    writer can put it on disk while it is being sealed. The largest part (the photo) is
    encrypted a stretch at a time (:mod:`sync.chacha_stream`); a stretch is final as soon as
    ChaCha20 has run over it, so ``on_ready(start, end)`` reports the part's growing stretch
    at once, before the key wraps exist (the header is the associated data: needed to
    authenticate, not to encrypt). When everything is done, ``on_ready(0, plan.total_size)``.
    With a ``worker`` (one free thread), half of a large photo is encrypted there meanwhile
    (see :func:`_seal_streamed`). Raises EnvelopeError if the parts do not match the plan.
    """
    pieces = _part_pieces(plan.kind, parts)
    for views, (name, length) in zip(pieces, plan.part_lengths, strict=True):
        if sum(len(v) for v in views) != length:
            raise EnvelopeError(f"part {name!r} is not the planned length")
    if len(out) < plan.total_size:
        raise EnvelopeError("the output buffer is smaller than the envelope")
    offsets = plan.offsets
    largest = max(range(len(pieces)), key=lambda i: plan.part_lengths[i][1])
    streamed = largest if plan.part_lengths[largest][1] >= STREAM_MIN else None
    if streamed is not None:
        aad = _seal_streamed(plan, streamed, pieces[streamed], out, on_ready, worker)
    else:
        aad = plan.associated_data()
    out[: len(aad)] = aad
    aead = ChaCha20Poly1305(plan.data_key)
    for index, (views, (_name, length)) in enumerate(zip(pieces, plan.part_lengths,
                                                          strict=True)):
        if index != streamed:
            plain = views[0] if len(views) == 1 else b"".join(views)
            aead.encrypt_into(part_nonce(index), plain, aad,
                              out[offsets[index]: offsets[index] + length + TAG_LEN])
    if on_ready is not None:
        on_ready(0, plan.total_size)


def _seal_streamed(plan: EnvelopePlan, index: int, views: list[memoryview], out: memoryview,
                   on_ready: Callable[[int, int], None] | None,
                   worker: Executor | None) -> bytes:
    """Encrypt and authenticate the streamed part into ``out``; returns the associated data.

    Order matters more than anything here. ChaCha20 runs without the interpreter lock and can
    start on any 64-byte block, so with a ``worker`` the far half is encrypted there while
    this thread does the near half. With a writer (``on_ready``), each stretch goes to it the
    moment it is encrypted, and the wraps and Poly1305 (which hold the lock) come after: the
    disk is the slowest part and should never wait for them. Without a writer, each stretch
    is authenticated right after it is encrypted, while it is still in the cache.
    """
    nonce, begin = part_nonce(index), plan.offsets[index]
    length = plan.part_lengths[index][1]
    split = length if worker is None or length < SPLIT_MIN else length // 2 // 64 * 64
    far = None
    if worker is not None and split < length:
        far = worker.submit(_encrypt_range, plan.data_key, nonce, views, split, length,
                            out[begin + split: begin + length])

    def report(end: int) -> None:
        if on_ready is not None:
            on_ready(begin, begin + end)

    try:
        authenticator: PartAuthenticator | None = None
        aad, authenticated, reported = b"", 0, 0
        encryptor = PartEncryptor(plan.data_key, nonce)
        for start in range(0, split, STREAM_CHUNK):
            end = min(start + STREAM_CHUNK, split)
            _encrypt_views(encryptor, _slice(views, start, end), out[begin + start: begin + end])
            report(end)
            reported = end
            if on_ready is None:
                if authenticator is None:
                    aad = plan.associated_data()
                    authenticator = PartAuthenticator(plan.data_key, nonce, aad)
                authenticator.update(out[begin + start: begin + end])
                authenticated = end
        if far is not None and far.done():  # hand the far half over before the wraps
            far.result()
            far, reported = None, length
            report(length)
        if authenticator is None:
            aad = plan.associated_data()
            authenticator = PartAuthenticator(plan.data_key, nonce, aad)
        for start in range(authenticated, length, STREAM_CHUNK):
            end = min(start + STREAM_CHUNK, length)
            if end > reported:
                if far is not None:
                    far.result()
                    far = None
                reported = length
                report(length)
            authenticator.update(out[begin + start: begin + end])
    finally:
        if far is not None:  # never return while the worker still writes into ``out``
            with contextlib.suppress(Exception):
                far.result()
    out[begin + length: begin + length + TAG_LEN] = authenticator.tag()
    return aad


def _slice(views: list[memoryview], start: int, end: int) -> list[memoryview]:
    """Bytes ``start:end`` of the concatenation of ``views``, as views."""
    out, at = [], 0
    for view in views:
        lo, hi = max(start - at, 0), min(end - at, len(view))
        if lo < hi:
            out.append(view[lo:hi])
        at += len(view)
    return out


def _encrypt_views(encryptor: PartEncryptor, views: list[memoryview], out: memoryview) -> None:
    at = 0
    for view in views:
        encryptor.encrypt_into(view, out[at: at + len(view)])
        at += len(view)


def _encrypt_range(key: bytes, nonce: bytes, views: list[memoryview], start: int, end: int,
                   out: memoryview) -> None:
    _encrypt_views(PartEncryptor(key, nonce, start), _slice(views, start, end), out)


def seal_chunks(
    kind: str,
    parts: Mapping[str, bytes | bytearray | memoryview],
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    subject: str | None = None,
    _data_key: bytes | None = None,
    _wrap: KeyWrapper | None = None,
) -> list[bytes]:
    """Seal ``parts`` (raw bytes by part name, ``metadata`` already encoded) into chunks whose
    concatenation is the sealed file; writing them with ``os.writev`` avoids one big copy.

    ``_data_key`` and ``_wrap`` exist only to reproduce the published test vectors
    deterministically; production callers leave them unset (fresh key, fresh HPKE ephemeral).
    """
    aad, data_key, pieces = _begin(kind, parts, recipients, station_id, item_id, subject,
                                   _data_key, _wrap)
    aead = ChaCha20Poly1305(data_key)
    chunks = [aad]
    for index, views in enumerate(pieces):
        plain = views[0] if len(views) == 1 else b"".join(views)
        chunks.append(aead.encrypt(part_nonce(index), plain, aad))
    return chunks


def seal(
    kind: str,
    parts: Mapping[str, bytes | bytearray | memoryview],
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    subject: str | None = None,
    _data_key: bytes | None = None,
    _wrap: KeyWrapper | None = None,
) -> bytes:
    """Seal an item to ``recipients`` and return the whole sealed file (see :func:`seal_chunks`)."""
    return b"".join(seal_chunks(
        kind, parts, recipients=recipients, station_id=station_id, item_id=item_id,
        subject=subject, _data_key=_data_key, _wrap=_wrap,
    ))


def seal_capture(
    metadata: Mapping[str, Any],
    image: bytes,
    preview: bytes,
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    capture_id: str,
) -> bytes:
    """A capture: metadata JSON, the JPEG and a small preview JPEG."""
    parts = {"metadata": encode_metadata(metadata), "image": image, "preview": preview}
    return seal("capture", parts, recipients=recipients, station_id=station_id,
                item_id=capture_id)


def seal_amendment(
    metadata: Mapping[str, Any],
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    amendment_id: str,
    capture_id: str,
) -> bytes:
    """An amendment (changed tags, or a retraction) of ``capture_id``."""
    return seal("amendment", {"metadata": encode_metadata(metadata)}, recipients=recipients,
                station_id=station_id, item_id=amendment_id, subject=capture_id)


def seal_audit(
    metadata: Mapping[str, Any],
    records: bytes,
    *,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    batch_id: str,
) -> bytes:
    """A batch of audit log lines (``records``, newline-delimited JSON) for the receiver."""
    parts = {"metadata": encode_metadata(metadata), "records": records}
    return seal("audit", parts, recipients=recipients, station_id=station_id, item_id=batch_id)


# -- reading ----------------------------------------------------------------------------------


def _read_source(
    source: bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO,
) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise EnvelopeError(f"cannot read {os.fspath(source)}: {exc.strerror}") from None
    return source.read()


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise EnvelopeError(f"header repeats the key {key!r}")
        result[key] = value
    return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_header(data: bytes) -> Header:
    """Parse and validate the header at the start of ``data`` (which may hold more)."""
    if len(data) < len(PREFIX) + 4:
        raise EnvelopeError("not a sealed file: too short (truncated?)")
    if data[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("not a sealed file (bad magic)")
    if data[len(MAGIC)] != VERSION:
        raise EnvelopeError(f"unsupported envelope version {data[len(MAGIC)]} (this reads 1)")
    (length,) = struct.unpack(">I", data[len(PREFIX): len(PREFIX) + 4])
    if length > MAX_HEADER:
        raise EnvelopeError("header length is implausible (damaged file)")
    end = len(PREFIX) + 4 + length
    if len(data) < end:
        raise EnvelopeError("sealed file is truncated inside its header")
    try:
        fields = json.loads(data[len(PREFIX) + 4: end].decode("utf-8"),
                            object_pairs_hook=_json_object)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EnvelopeError("header is not valid JSON (damaged file)") from None
    if not isinstance(fields, dict) or set(fields) != _HEADER_KEYS:
        raise EnvelopeError("header does not have the v1 fields")
    if fields["v"] != VERSION or not _is_int(fields["v"]):
        raise EnvelopeError("header version does not match the file version")
    if fields["suite"] != SUITE_IDS or any(not _is_int(v) for v in fields["suite"].values()):
        raise EnvelopeError("unsupported cipher suite")
    kind, item_id, subject = fields["kind"], fields["id"], fields["subject"]
    if not isinstance(kind, str):
        raise EnvelopeError("header kind must be a string")
    _check_item(kind, item_id, subject)
    station_id = _check_station(fields["station"])
    recipients = _parse_recipients(fields["recipients"])
    parts = _parse_parts(kind, fields["parts"])
    return Header(VERSION, kind, station_id, item_id, subject, recipients, parts,
                  bytes(data[:end]))


def _parse_recipients(value: object) -> tuple[Recipient, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise EnvelopeError(f"header must list 1 to {MAX_RECIPIENTS} recipients")
    result = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"rid", "kid", "enc"}:
            raise EnvelopeError("a recipient entry needs exactly rid, kid and enc")
        rid, kid, enc = entry["rid"], entry["kid"], entry["enc"]
        if not isinstance(rid, str) or not _RID_RE.fullmatch(rid):
            raise EnvelopeError("bad recipient id in header")
        if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
            raise EnvelopeError("bad recipient key id in header")
        try:
            raw = base64.b64decode(enc, validate=True) if isinstance(enc, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != WRAP_LEN:
            raise EnvelopeError("bad key wrap in header")
        result.append(Recipient(rid, kid, raw))
    if len({r.rid for r in result}) != len(result):
        raise EnvelopeError("header repeats a recipient id")
    return tuple(result)


def _parse_parts(kind: str, value: object) -> tuple[PartInfo, ...]:
    wanted = KIND_PARTS[kind]
    if not isinstance(value, list) or len(value) != len(wanted):
        raise EnvelopeError(f"a {kind} envelope has the parts {', '.join(wanted)}")
    result = []
    for name, entry in zip(wanted, value, strict=True):
        if not isinstance(entry, dict) or set(entry) != {"name", "len"}:
            raise EnvelopeError("a part entry needs exactly name and len")
        if entry["name"] != name:
            raise EnvelopeError(f"a {kind} envelope has the parts {', '.join(wanted)} in order")
        size = entry["len"]
        if not _is_int(size) or not 0 <= size <= MAX_PART:
            raise EnvelopeError(f"part {name!r} has an implausible length")
        result.append(PartInfo(name, size))
    return tuple(result)


def read_header(
    source: bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO,
) -> Header:
    """The header of a sealed file, bytes or stream, without any key (reads only the header)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return parse_header(bytes(source))
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                return read_header(handle)
        except OSError as exc:
            raise EnvelopeError(f"cannot read {os.fspath(source)}: {exc.strerror}") from None
    start = source.read(len(PREFIX) + 4)
    if len(start) < len(PREFIX) + 4 or start[: len(MAGIC)] != MAGIC:
        return parse_header(start)  # raises the matching error
    (length,) = struct.unpack(">I", start[len(PREFIX):])
    if length > MAX_HEADER:
        return parse_header(start)  # raises: implausible length
    return parse_header(start + source.read(length))


def _find_recipients(header: Header, private_key: X25519PrivateKey,
                     recipient_id: str | None) -> list[Recipient]:
    kid = key_id(private_key.public_key())
    matches = [r for r in header.recipients if r.kid == kid
               and (recipient_id is None or r.rid == recipient_id)]
    if not matches:
        named = f" as {recipient_id!r}" if recipient_id else ""
        raise EnvelopeError(
            f"this sealed file is not addressed to this key{named} (key id {kid}; "
            f"recipients: {', '.join(f'{r.rid}:{r.kid}' for r in header.recipients)})"
        )
    return matches


def open_envelope(
    source: bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO,
    private_key: X25519PrivateKey,
    recipient_id: str | None = None,
    *,
    only: Iterable[str] | None = None,
) -> OpenedEnvelope:
    """Check and decrypt a sealed file with a recipient's private key.

    ``only`` names the parts to decrypt (``metadata`` is always included), e.g. a review list
    that needs just the preview. Raises :class:`EnvelopeError` if the file is truncated,
    extended, tampered with, or not addressed to ``private_key``.
    """
    if not isinstance(private_key, X25519PrivateKey):
        raise EnvelopeError("opening needs an X25519 private key")
    data = _read_source(source)
    header = parse_header(data)
    if len(data) < header.total_size:
        raise EnvelopeError(
            f"sealed file is truncated ({len(data)} of {header.total_size} bytes)")
    if len(data) > header.total_size:
        raise EnvelopeError("sealed file has unexpected bytes after its payload")
    info = hpke_info(header.kind, header.station_id, header.item_id)
    data_key = None
    used = None
    for entry in _find_recipients(header, private_key, recipient_id):
        try:
            data_key = _SUITE.decrypt(entry.enc, private_key, info=info)
        except InvalidTag:
            continue
        if len(data_key) == DATA_KEY_LEN:
            used = entry.rid
            break
        data_key = None
    if data_key is None or used is None:
        raise EnvelopeError(
            "the key wrap for this key does not open: the file was tampered with or its "
            "header names another station or item")
    wanted = {"metadata", *(only if only is not None else KIND_PARTS[header.kind])}
    unknown = wanted - set(KIND_PARTS[header.kind])
    if unknown:
        raise EnvelopeError(f"a {header.kind} envelope has no part {sorted(unknown)[0]!r}")
    aead = ChaCha20Poly1305(data_key)
    parts: dict[str, bytes] = {}
    offset = header.payload_offset
    view = memoryview(data)
    for index, part in enumerate(header.parts):
        end = offset + part.length + TAG_LEN
        if part.name in wanted:
            try:
                parts[part.name] = aead.decrypt(part_nonce(index), view[offset:end], header.raw)
            except InvalidTag:
                raise EnvelopeError(
                    f"part {part.name!r} does not authenticate: the file was tampered with or "
                    "damaged") from None
        offset = end
    try:
        metadata = json.loads(parts["metadata"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EnvelopeError("metadata is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise EnvelopeError("metadata must be a JSON object")
    return OpenedEnvelope(header=header, recipient_id=used, metadata=metadata, parts=parts)


def recipient_id_for(private_key: X25519PrivateKey, header: Header) -> str | None:
    """The label under which ``header`` addresses ``private_key``, or None."""
    kid = key_id(private_key.public_key())
    return next((r.rid for r in header.recipients if r.kid == kid), None)


def load_public_key(raw: bytes) -> X25519PublicKey:
    """An X25519 public key from its raw 32 bytes (as carried in an enrolment)."""
    if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
        raise EnvelopeError("an X25519 public key is 32 raw bytes")
    return X25519PublicKey.from_public_bytes(bytes(raw))


def default_name(item_id: str) -> str:
    """The file name of a sealed item: ``<item id>.sealed``."""
    return f"{_canonical_uuid(item_id, 'item id')}{SUFFIX}"


def path_for(directory: Path, item_id: str) -> Path:
    return Path(directory) / default_name(item_id)
