"""Envelope format v2: sealed, signed, streamed ``.sealed`` files, for station and practice.

A sealed file holds one item of one station: a capture, a scanned document, an amendment of a
capture, or a batch of audit lines. ``docs/envelope.md`` specifies every byte; this module
is the reference implementation and ``docs/envelope-vectors.json`` is checked against it.

Layout (integers big-endian)::

    "CAPSEAL" 0x02                       magic and version (8 bytes)
    u16 H, header (H bytes)              ASCII JSON: kind, station, item, HPKE key wraps, parts
    chunk 0 .. chunk n-1                 the parts' plaintext, concatenated, cut into 64 KiB
                                         chunks, each ChaCha20-Poly1305(data key) under the
                                         STREAM nonce (11-byte counter, last-chunk flag) with
                                         the file's first 10 + H bytes as associated data
    signature (64 bytes)                 Ed25519 by the station over a label and the SHA-256
                                         of everything before it

Three keys, three jobs. A fresh data key per item encrypts the payload; HPKE (RFC 9180,
one-shot, ``info`` = kind, station, item) wraps it to each recipient. The station's Ed25519
identity key signs the whole file, so anyone with the station's public key can tell offline
that the station made exactly these bytes; the station id *is* a hash of that key
(:func:`sync.protocol.station_id_for`), so the signer cannot be confused with another station.

Opening is two passes over a file that stays put: the first hashes every byte and checks the
signature (and nothing is decrypted before it holds), the second decrypts chunk by chunk,
hashing again, and hands the plaintext to a writer, so memory stays bounded whatever the size.
Every failure raises :class:`EnvelopeError`; its message says what is wrong and never holds
key material, metadata values or payload bytes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import os
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from .errors import SyncError
from .protocol import MAX_ITEM_BYTES, STATION_ID_RE, station_id_for
from .strictparse import ParseError, loads_json

MAGIC = b"CAPSEAL"
VERSION = 2
PREFIX = MAGIC + bytes([VERSION])
#: magic + version + u16 header length
HEAD_LEN = len(PREFIX) + 2
SUFFIX = ".sealed"
CHUNK_SIZE = 64 * 1024
TAG_LEN = 16
SIGNATURE_LEN = 64
DATA_KEY_LEN = 32
#: One HPKE key wrap: enc (32) + the sealed data key (32) + its tag (16).
WRAP_LEN = 32 + DATA_KEY_LEN + TAG_LEN
MAX_HEADER = 4096
MAX_RECIPIENTS = 4
#: The metadata part is at most one chunk, so it is always whole in chunk 0.
MAX_METADATA = CHUNK_SIZE
#: Largest sealed file, signature included (the protocol's upload limit).
MAX_FILE = MAX_ITEM_BYTES
MAX_TEXT = 1024
MAX_COUNT = 2**53 - 1
INFO_LABEL = b"capture-station envelope v2"
SIGNATURE_LABEL = b"capture-station envelope v2 signature\n"

#: The parts each kind carries after ``metadata`` (which is always first), in order.
KIND_PARTS: dict[str, tuple[str, ...]] = {
    "capture": ("image", "preview"),
    "document": ("pdf", "preview"),
    "amendment": (),
    "audit": ("records",),
}

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
_KID_RE = re.compile(r"[0-9a-f]{16}")
_UUID7_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")
_HEADER_KEYS = frozenset({"kind", "station", "id", "subject", "recipients", "parts"})
_MAX_INT_DIGITS = 16

#: ``wrap(data_key, recipient, info) -> enc || ct``: one-shot HPKE unless a vector needs a seam.
KeyWrapper = Callable[[bytes, X25519PublicKey, bytes], bytes]
#: Plaintext of a part: one buffer, or pieces that are concatenated (never joined up front).
PartData = bytes | bytearray | memoryview | Sequence[bytes | bytearray | memoryview]
#: What opening hands the plaintext to: ``write(part name, bytes)``, in file order.
PartWriter = Callable[[str, memoryview], object]
Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


class EnvelopeError(SyncError, ValueError):
    """A sealed file cannot be written or opened; the message says why (never a secret)."""


# -- the metadata table (docs/envelope.md, "Metadata") -------------------------------------

TEXT, TIME, BOOL, COUNT, UUID7, STATION, CHANGES = (
    "text", "time", "bool", "count", "uuid7", "station", "changes")


@dataclass(frozen=True)
class MetaField:
    """One metadata key: its type, and whether it must be present (required ones never null)."""

    type: str
    required: bool = False


_CAPTURE_FIELDS: dict[str, MetaField] = {
    "station_id": MetaField(STATION, True),
    "capture_id": MetaField(UUID7, True),
    "patient_id": MetaField(TEXT, True),
    "issuer": MetaField(TEXT, True),
    "captured_at": MetaField(TIME, True),
    "encounter": MetaField(TEXT),
    "operator": MetaField(TEXT),
    "consent": MetaField(TEXT),
    "emergency_override": MetaField(BOOL),
    "body_site": MetaField(TEXT),
    "laterality": MetaField(TEXT),
    "provenance": MetaField(TEXT),
    "session_id": MetaField(TEXT),
    "sequence": MetaField(COUNT),
    "station_name": MetaField(TEXT),
    "clock_synced": MetaField(BOOL),
    "note": MetaField(TEXT),
    "consent_form": MetaField(UUID7),
}
#: Capture keys an amendment may change; identity and provenance travel only with the capture.
AMENDABLE = ("operator", "consent", "emergency_override", "body_site", "laterality", "note")

#: Every metadata key of every kind. Nothing else is accepted, on sealing or on opening.
METADATA_FIELDS: dict[str, dict[str, MetaField]] = {
    "capture": _CAPTURE_FIELDS,
    "document": {**_CAPTURE_FIELDS, "pages": MetaField(COUNT),
                 "document_type": MetaField(TEXT)},
    "amendment": {
        "station_id": MetaField(STATION, True),
        "amends": MetaField(UUID7, True),
        "at": MetaField(TIME, True),
        "retract": MetaField(BOOL, True),
        "changes": MetaField(CHANGES, True),
        "operator": MetaField(TEXT),
        "reason": MetaField(TEXT),
    },
    "audit": {
        "station_id": MetaField(STATION, True),
        "first_seq": MetaField(COUNT, True),
        "last_seq": MetaField(COUNT, True),
        "lines": MetaField(COUNT, True),
    },
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(kind_of: str, value: object) -> bool:
    """Whether ``value`` (not None) has the metadata type ``kind_of``."""
    if kind_of == BOOL:
        return isinstance(value, bool)
    if kind_of == COUNT:
        return _is_int(value) and 0 <= value <= MAX_COUNT  # type: ignore[operator]
    if kind_of == CHANGES:
        return isinstance(value, dict) and all(
            key in AMENDABLE and (new is None or _check_value(_CAPTURE_FIELDS[key].type, new))
            for key, new in value.items())
    if not isinstance(value, str):
        return False
    if kind_of == TEXT:
        return 1 <= len(value) <= MAX_TEXT and _is_unicode(value)
    if kind_of == UUID7:
        return _is_uuid7(value)
    if kind_of == STATION:
        return bool(STATION_ID_RE.fullmatch(value))
    return kind_of == TIME and _is_time(value)


def _is_unicode(text: str) -> bool:
    """No lone surrogates (JSON's ``\\ud800`` parses, but is no character)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_time(text: str) -> bool:
    if not _TIME_RE.fullmatch(text):
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_uuid7(text: object) -> bool:
    return isinstance(text, str) and bool(_UUID7_RE.fullmatch(text))


def check_metadata(kind: str, metadata: object, *, station_id: str, item_id: str,
                   subject: str | None) -> dict[str, Any]:
    """``metadata`` if it is exactly what the table allows for ``kind`` and names this file's
    station and item (the header's are authoritative); raises EnvelopeError naming the key."""
    if not isinstance(metadata, dict):
        raise EnvelopeError("metadata must be a JSON object")
    fields = METADATA_FIELDS[kind]
    for key in metadata:
        if key not in fields:
            raise EnvelopeError(f"metadata key {str(key)[:40]!r} is not defined for a {kind}")
    for key, spec in fields.items():
        value = metadata.get(key)
        if value is None:
            if spec.required:
                raise EnvelopeError(f"{kind} metadata needs {key!r}")
            continue
        if not _check_value(spec.type, value):
            raise EnvelopeError(f"metadata {key!r} is not a valid {spec.type}")
    if metadata["station_id"] != station_id:
        raise EnvelopeError("metadata names another station than the header")
    if kind in ("capture", "document") and metadata["capture_id"] != item_id:
        raise EnvelopeError("metadata names another capture than the header")
    if kind == "amendment" and metadata["amends"] != subject:
        raise EnvelopeError("metadata amends another capture than the header names")
    if kind == "audit" and metadata["first_seq"] > metadata["last_seq"]:
        raise EnvelopeError("audit metadata has first_seq after last_seq")
    return metadata


# -- JSON that cannot surprise ------------------------------------------------------------------


def _parse_json(data: bytes, what: str, *, ascii_only: bool) -> Any:
    """Strict JSON (:func:`sync.strictparse.loads_json`: no duplicate keys, integers of at
    most 16 digits, no floats, NaN or Infinity); anything else gives EnvelopeError."""
    try:
        return loads_json(data, ascii_only=ascii_only, max_int_digits=_MAX_INT_DIGITS)
    except ParseError as exc:
        raise EnvelopeError(f"{what}: {exc}") from None


def _encode_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


# -- small shared pieces --------------------------------------------------------------------


def key_id(public_key: X25519PublicKey) -> str:
    """16 hex digits naming a recipient key: the start of SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def hpke_info(kind: str, station_id: str, item_id: str) -> bytes:
    """The HPKE ``info``: label, kind, station id and item id joined by NUL bytes."""
    return b"\x00".join((INFO_LABEL, kind.encode(), station_id.encode(), item_id.encode()))


def chunk_nonce(index: int, last: bool) -> bytes:
    """STREAM nonce: the chunk's index as 11 big-endian bytes, then 0x01 on the last chunk."""
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def chunk_count(plaintext_length: int) -> int:
    """Chunks for a payload: full chunks and one shorter last one; never zero."""
    return max(1, -(-plaintext_length // CHUNK_SIZE))


def station_of(public_key: Ed25519PublicKey) -> str:
    """The station id that ``public_key`` signs as."""
    return station_id_for(_raw(public_key))


def _raw(public_key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- the header -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What anyone can read without a key; ``raw`` (file bytes 0 .. 10 + H) is every chunk's
    associated data."""

    kind: str
    station_id: str
    item_id: str
    subject: str | None
    recipients: tuple[tuple[str, bytes], ...]  # (kid, HPKE enc || ct)
    parts: tuple[tuple[str, int], ...]  # (name, plaintext length), metadata first
    raw: bytes

    @property
    def payload_offset(self) -> int:
        return len(self.raw)

    @property
    def plaintext_length(self) -> int:
        return sum(length for _name, length in self.parts)

    @property
    def chunks(self) -> int:
        return chunk_count(self.plaintext_length)

    @property
    def file_size(self) -> int:
        """The exact size of the complete sealed file."""
        return (self.payload_offset + self.plaintext_length + TAG_LEN * self.chunks
                + SIGNATURE_LEN)

    @property
    def capture_id(self) -> str | None:
        """The capture concerned: the item itself, the amended capture, or None (audit)."""
        if self.kind in ("capture", "document"):
            return self.item_id
        return self.subject


def _check_item(kind: object, item_id: object, subject: object) -> None:
    if not isinstance(kind, str) or kind not in KIND_PARTS:
        raise EnvelopeError(f"unknown kind; known: {', '.join(KIND_PARTS)}")
    if not _is_uuid7(item_id):
        raise EnvelopeError("item id must be a lowercase hyphenated UUIDv7")
    if kind == "amendment":
        if not _is_uuid7(subject):
            raise EnvelopeError("an amendment names the capture it amends (a UUIDv7 subject)")
    elif subject is not None:
        raise EnvelopeError(f"a {kind} has no subject")


def _build_header(kind: str, station_id: str, item_id: str, subject: str | None,
                  recipients: Sequence[tuple[str, bytes]],
                  parts: Sequence[tuple[str, int]]) -> bytes:
    header = {
        "kind": kind,
        "station": station_id,
        "id": item_id,
        "subject": subject,
        "recipients": [{"kid": kid, "enc": base64.b64encode(enc).decode()}
                       for kid, enc in recipients],
        "parts": [{"name": name, "len": length} for name, length in parts],
    }
    body = _encode_json(header)
    if len(body) > MAX_HEADER:
        raise EnvelopeError(f"header larger than {MAX_HEADER} bytes")
    return PREFIX + struct.pack(">H", len(body)) + body


def parse_header(data: bytes) -> Header:
    """Parse and check the header at the start of ``data`` (which may hold more)."""
    if len(data) < HEAD_LEN:
        raise EnvelopeError("not a sealed file: too short")
    if data[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("not a sealed file (bad magic)")
    if data[len(MAGIC)] != VERSION:
        raise EnvelopeError(f"envelope version {data[len(MAGIC)]} is not 2")
    (length,) = struct.unpack(">H", data[len(PREFIX): HEAD_LEN])
    if length > MAX_HEADER:
        raise EnvelopeError(f"header longer than {MAX_HEADER} bytes")
    end = HEAD_LEN + length
    if len(data) < end:
        raise EnvelopeError("sealed file is truncated inside its header")
    fields = _parse_json(bytes(data[HEAD_LEN:end]), "header", ascii_only=True)
    if not isinstance(fields, dict) or set(fields) != _HEADER_KEYS:
        raise EnvelopeError(f"header must have exactly the keys {', '.join(sorted(_HEADER_KEYS))}")
    kind, item_id, subject = fields["kind"], fields["id"], fields["subject"]
    _check_item(kind, item_id, subject)
    station_id = fields["station"]
    if not isinstance(station_id, str) or not STATION_ID_RE.fullmatch(station_id):
        raise EnvelopeError("header station id is not st- and 24 lowercase hex digits")
    header = Header(kind, station_id, item_id, subject, _parse_recipients(fields["recipients"]),
                    _parse_parts(kind, fields["parts"]), bytes(data[:end]))
    if header.file_size > MAX_FILE:
        raise EnvelopeError(f"the item is larger than {MAX_FILE} bytes")
    return header


def _parse_recipients(value: object) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise EnvelopeError(f"header must list 1 to {MAX_RECIPIENTS} recipients")
    result: list[tuple[str, bytes]] = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"kid", "enc"}:
            raise EnvelopeError("a recipient has exactly the keys kid and enc")
        kid, enc = entry["kid"], entry["enc"]
        if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
            raise EnvelopeError("a recipient kid is 16 lowercase hex digits")
        raw = _strict_b64(enc)
        if raw is None or len(raw) != WRAP_LEN:
            raise EnvelopeError(f"a recipient enc is base64 of {WRAP_LEN} bytes")
        if any(kid == seen for seen, _enc in result):
            raise EnvelopeError("header has two recipients with the same kid")
        result.append((kid, raw))
    return tuple(result)


def _strict_b64(text: object) -> bytes | None:
    """RFC 4648 section 4 base64 with padding, in its one canonical spelling; else None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def _parse_parts(kind: str, value: object) -> tuple[tuple[str, int], ...]:
    names = ("metadata", *KIND_PARTS[kind])
    if not isinstance(value, list) or len(value) != len(names):
        raise EnvelopeError(f"a {kind} has the parts {', '.join(names)}")
    result = []
    for name, entry in zip(names, value, strict=True):
        if not isinstance(entry, dict) or set(entry) != {"name", "len"}:
            raise EnvelopeError("a part has exactly the keys name and len")
        if entry["name"] != name:
            raise EnvelopeError(f"a {kind} has the parts {', '.join(names)}, in that order")
        length = entry["len"]
        limit = MAX_METADATA if name == "metadata" else MAX_FILE
        if not _is_int(length) or not 0 <= length <= limit:
            raise EnvelopeError(f"part {name!r} has an impossible length")
        result.append((name, length))
    return tuple(result)


# -- sealing ---------------------------------------------------------------------------------


def _views(data: PartData) -> list[memoryview]:
    if isinstance(data, bytes | bytearray | memoryview):
        return [memoryview(data).cast("B")]
    if isinstance(data, Sequence) and not isinstance(data, str):
        try:
            return [memoryview(piece).cast("B") for piece in data]
        except TypeError:
            pass
    raise EnvelopeError("a part is bytes, or a sequence of byte pieces")


def _plaintext_chunks(pieces: list[memoryview], total: int) -> Iterator[bytes | memoryview]:
    """The concatenation of ``pieces`` cut into CHUNK_SIZE chunks (the last one shorter),
    exactly :func:`chunk_count` of them; a chunk inside one piece is a view, never a copy."""
    current: list[memoryview] = []
    filled = 0
    for piece in pieces:
        while piece:
            take = piece[: CHUNK_SIZE - filled]
            current.append(take)
            filled += len(take)
            piece = piece[len(take):]
            if filled == CHUNK_SIZE:
                yield current[0] if len(current) == 1 else b"".join(current)
                current, filled = [], 0
    if filled or total == 0:
        yield b"".join(current)


def seal_to(
    write: Callable[[bytes | memoryview], object],
    kind: str,
    metadata: Mapping[str, Any],
    parts: Mapping[str, PartData],
    *,
    recipients: Sequence[X25519PublicKey],
    station_key: Ed25519PrivateKey,
    item_id: str,
    subject: str | None = None,
    _data_key: bytes | None = None,
    _wrap: KeyWrapper | None = None,
) -> int:
    """Seal one item and hand the file to ``write`` as it is made: the header, each sealed
    chunk, then the signature. Returns the file's size.

    ``metadata`` is checked against the table for ``kind`` (it must name the station of
    ``station_key`` and this item); ``parts`` holds the kind's other parts, each bytes or a
    sequence of pieces. The station id is derived from ``station_key``. Nothing is written
    before every check has passed; if ``write`` fails, the caller discards what it wrote.
    ``_data_key`` and ``_wrap`` exist only to reproduce the published vectors.
    """
    if not isinstance(station_key, Ed25519PrivateKey):
        raise EnvelopeError("sealing needs the station's Ed25519 private key")
    station_id = station_of(station_key.public_key())
    _check_item(kind, item_id, subject)
    if not isinstance(metadata, Mapping):
        raise EnvelopeError("metadata must be a mapping")
    check_metadata(kind, dict(metadata), station_id=station_id, item_id=item_id,
                   subject=subject)
    try:
        encoded = _encode_json(dict(metadata))
    except (TypeError, ValueError):
        raise EnvelopeError("metadata must be JSON-serialisable") from None
    if len(encoded) > MAX_METADATA:
        raise EnvelopeError(f"metadata is larger than {MAX_METADATA} bytes")
    names = KIND_PARTS[kind]
    if set(parts) != set(names):
        raise EnvelopeError(f"a {kind} carries exactly the parts {', '.join(names) or '(none)'}")
    pieces = [memoryview(encoded)]
    lengths = [("metadata", len(encoded))]
    for name in names:
        views = _views(parts[name])
        pieces += views
        lengths.append((name, sum(len(v) for v in views)))
    if not 1 <= len(recipients) <= MAX_RECIPIENTS or not all(
            isinstance(r, X25519PublicKey) for r in recipients):
        raise EnvelopeError(f"1 to {MAX_RECIPIENTS} X25519 recipient public keys")
    if len({key_id(r) for r in recipients}) != len(recipients):
        raise EnvelopeError("a recipient key is given twice")

    data_key = os.urandom(DATA_KEY_LEN) if _data_key is None else bytes(_data_key)
    wrap = _wrap or (lambda key, public, info: _SUITE.encrypt(key, public, info=info))
    info = hpke_info(kind, station_id, item_id)
    wraps = [(key_id(r), wrap(data_key, r, info)) for r in recipients]
    if len(data_key) != DATA_KEY_LEN or any(len(enc) != WRAP_LEN for _kid, enc in wraps):
        raise EnvelopeError("a key wrap has the wrong length")
    header = _build_header(kind, station_id, item_id, subject, wraps, lengths)
    total = sum(length for _name, length in lengths)
    count = chunk_count(total)
    size = len(header) + total + TAG_LEN * count + SIGNATURE_LEN
    if size > MAX_FILE:
        raise EnvelopeError(f"the sealed item would be larger than {MAX_FILE} bytes")

    digest = hashlib.sha256(header)
    write(header)
    aead = ChaCha20Poly1305(data_key)
    for index, plain in enumerate(_plaintext_chunks(pieces, total)):
        sealed = aead.encrypt(chunk_nonce(index, index == count - 1), plain, header)
        digest.update(sealed)
        write(sealed)
    write(station_key.sign(SIGNATURE_LABEL + digest.digest()))
    return size


def seal(kind: str, metadata: Mapping[str, Any], parts: Mapping[str, PartData], *,
         recipients: Sequence[X25519PublicKey], station_key: Ed25519PrivateKey, item_id: str,
         subject: str | None = None, _data_key: bytes | None = None,
         _wrap: KeyWrapper | None = None) -> bytes:
    """The whole sealed file as bytes (see :func:`seal_to`); for small items and tests."""
    out: list[bytes] = []
    seal_to(lambda data: out.append(bytes(data)), kind, metadata, parts, recipients=recipients,
            station_key=station_key, item_id=item_id, subject=subject, _data_key=_data_key,
            _wrap=_wrap)
    return b"".join(out)


# -- opening ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A verified, decrypted item. ``parts`` holds the plaintext of the parts other than
    metadata only when no writer was given (opening to memory)."""

    header: Header
    kid: str  # the recipient entry that opened it
    metadata: dict[str, Any]
    parts: dict[str, bytes] = field(default_factory=dict)

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


class _Reader:
    """Exact reads from one open file; a short read is a truncated sealed file."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def exactly(self, count: int) -> bytes:
        data = self.handle.read(count)
        if data is None or len(data) != count:
            raise EnvelopeError("sealed file is truncated")
        return data

    def size(self) -> int:
        at = self.handle.tell()
        end = self.handle.seek(0, io.SEEK_END)
        self.handle.seek(at)
        return end


def _read_header(reader: _Reader) -> Header:
    start = reader.handle.read(HEAD_LEN) or b""
    if len(start) < HEAD_LEN or start[: len(PREFIX)] != PREFIX:
        return parse_header(start)  # raises the matching error
    (length,) = struct.unpack(">H", start[len(PREFIX):])
    return parse_header(start + (reader.handle.read(min(length, MAX_HEADER + 1)) or b""))


def _with_file(source: Source, job: Callable[[_Reader], Any]) -> Any:
    if isinstance(source, bytes | bytearray | memoryview):
        return job(_Reader(io.BytesIO(source)))
    if isinstance(source, str | os.PathLike):
        try:
            handle = open(source, "rb")
        except OSError as exc:
            raise EnvelopeError(f"cannot read the sealed file: {exc.strerror}") from None
        with handle:
            return job(_Reader(handle))
    return job(_Reader(source))


def read_header(source: Source) -> Header:
    """The header of a sealed file (bytes, path or binary stream), without any key."""
    return _with_file(source, _read_header)


def _ciphertext_pieces(reader: _Reader, header: Header) -> Iterator[bytes]:
    """The sealed chunks in order, read one at a time from just after the header."""
    remaining = header.plaintext_length
    for _index in range(header.chunks):
        length = min(remaining, CHUNK_SIZE)
        remaining -= length
        yield reader.exactly(length + TAG_LEN)


def _verify_signature(reader: _Reader, header: Header, station_key: Ed25519PublicKey) -> bytes:
    """Pass 1: hash header and chunks, check the signature; returns the digest."""
    digest = hashlib.sha256(header.raw)
    for sealed in _ciphertext_pieces(reader, header):
        digest.update(sealed)
    signature = reader.exactly(SIGNATURE_LEN)
    try:
        station_key.verify(signature, SIGNATURE_LABEL + digest.digest())
    except InvalidSignature:
        raise EnvelopeError(
            f"the file is not signed by station {header.station_id}: forged or damaged") from None
    return digest.digest()


def _unwrap(header: Header, private_key: X25519PrivateKey) -> tuple[str, bytes]:
    kid = key_id(private_key.public_key())
    enc = dict(header.recipients).get(kid)
    if enc is None:
        raise EnvelopeError(f"this sealed file is not addressed to key {kid}")
    try:
        data_key = _SUITE.decrypt(enc, private_key,
                                  info=hpke_info(header.kind, header.station_id, header.item_id))
    except InvalidTag:
        raise EnvelopeError("the key wrap for this key does not open") from None
    if len(data_key) != DATA_KEY_LEN:
        raise EnvelopeError("the key wrap holds no data key")
    return kid, data_key


def open_envelope(source: Source, private_key: X25519PrivateKey,
                  station_key: Ed25519PublicKey, *, write: PartWriter | None = None) -> Opened:
    """Verify and decrypt a sealed file addressed to ``private_key``, made by the station
    whose identity key is ``station_key``.

    The signature is checked over every byte before anything is decrypted; then the metadata
    (chunk 0) is checked against the table and the header, and only then are the other parts
    decrypted, chunk by chunk, and handed to ``write(part, bytes)`` in order, or kept in
    ``Opened.parts`` when no writer is given. The file must not change while it is opened
    (the second pass re-hashes it and refuses if it did). On EnvelopeError the caller
    discards whatever ``write`` received. A path, a seekable binary file or bytes.
    """
    if not isinstance(private_key, X25519PrivateKey):
        raise EnvelopeError("opening needs an X25519 private key")
    if not isinstance(station_key, Ed25519PublicKey):
        raise EnvelopeError("opening needs the station's Ed25519 public key")

    def job(reader: _Reader) -> Opened:
        header = _read_header(reader)
        size = reader.size()
        if size != header.file_size:
            raise EnvelopeError(f"sealed file has {size} bytes, its header says "
                                f"{header.file_size}: truncated or extended")
        if station_of(station_key) != header.station_id:
            raise EnvelopeError(f"the file names station {header.station_id}, the key given "
                                f"is of station {station_of(station_key)}")
        signed = _verify_signature(reader, header, station_key)
        kid, data_key = _unwrap(header, private_key)
        reader.handle.seek(header.payload_offset)
        return _decrypt(reader, header, kid, data_key, signed, write)

    return _with_file(source, job)


def _decrypt(reader: _Reader, header: Header, kid: str, data_key: bytes, signed: bytes,
             write: PartWriter | None) -> Opened:
    """Pass 2: decrypt each chunk in order, check the metadata first, hand out the rest."""
    kept: dict[str, bytearray] = {name: bytearray() for name, _len in header.parts[1:]}

    def keep(name: str, data: memoryview) -> None:
        kept[name] += data

    out = write or keep
    # Plaintext offsets where each part other than metadata starts and ends.
    bounds, at = [], header.parts[0][1]
    for name, length in header.parts[1:]:
        bounds.append((name, at, at + length))
        at += length
    aead = ChaCha20Poly1305(data_key)
    digest = hashlib.sha256(header.raw)
    metadata: dict[str, Any] = {}
    position = 0
    for index, sealed in enumerate(_ciphertext_pieces(reader, header)):
        digest.update(sealed)
        try:
            plain = memoryview(aead.decrypt(chunk_nonce(index, index == header.chunks - 1),
                                            sealed, header.raw))
        except InvalidTag:
            raise EnvelopeError(f"chunk {index} does not authenticate: reordered, duplicated, "
                                "cut or altered") from None
        if index == 0:
            metadata = check_metadata(
                header.kind, _parse_json(bytes(plain[: header.parts[0][1]]), "metadata",
                                         ascii_only=False),
                station_id=header.station_id, item_id=header.item_id, subject=header.subject)
        for name, start, end in bounds:
            low, high = max(start, position), min(end, position + len(plain))
            if low < high:
                out(name, plain[low - position: high - position])
        position += len(plain)
    if digest.digest() != signed:
        raise EnvelopeError("the sealed file changed while it was being opened")
    parts = {} if write else {name: bytes(data) for name, data in kept.items()}
    return Opened(header, kid, metadata, parts)
