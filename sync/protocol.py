"""The wire contract between station and receiver: names, paths, limits, receipts.

Everything both sides must agree on lives here so that neither side can drift: the mDNS
service type and TXT keys, the URL shapes, which HTTP components a signature covers, the
replay window, and the signed receipt format. ``docs/sync-protocol.md`` explains the why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import SyncError
from .strictparse import loads_json

#: Protocol version, advertised as TXT ``v`` and used in every path (``/v1/...``).
PROTOCOL_VERSION = "1"
SERVICE_TYPE = "_capture-sync._tcp.local."

#: Item kinds and the collection each is PUT into.
KIND_PATHS = {"capture": "captures", "document": "documents", "amendment": "amendments",
              "audit": "audit"}
PATH_KINDS = {v: k for k, v in KIND_PATHS.items()}

#: Item ids are UUIDs (the station uses UUIDv7); lowercase canonical form only, so an id can
#: never carry a path separator, a dot segment or anything else into a file name.
ITEM_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Station ids are derived from the station's public key (see :func:`station_id_for`).
STATION_ID_RE = re.compile(r"st-[0-9a-f]{24}")
PIN_RE = re.compile(r"[0-9a-f]{64}")

#: Largest sealed item the receiver accepts (a 12 MP JPEG is well under 16 MB).
MAX_ITEM_BYTES = 64 * 1024 * 1024
#: Largest JSON request body (enrolment).
MAX_JSON_BYTES = 16 * 1024

#: Signature policy (RFC 9421). Every request covers these components; uploads add the
#: body digest and length. The tag names the application so a signature made for another
#: purpose with the same key is never accepted here.
SIGNATURE_LABEL = "station"
SIGNATURE_TAG = "capture-sync-v1"
COVERED_COMPONENTS = ("@method", "@path", "content-digest", "content-length")
#: A signature older than this, or more than CLOCK_SKEW_SECONDS in the future, is refused;
#: nonces are remembered for this long, so a replay inside the window is refused too.
SIGNATURE_MAX_AGE_SECONDS = 300
CLOCK_SKEW_SECONDS = 30

RECEIPT_CONTEXT = b"capture-sync receipt v1\n"

#: Station status, sent with every upload and status call for the practice's fleet page: how
#: many items wait in the station's outbox and which software it runs. When present they are
#: covered by the request signature like the components above (a header the signature does
#: not cover is ignored), so a relay cannot make a station look healthy or out of date. They
#: are display information: nothing is decided on them.
QUEUE_DEPTH_HEADER = "Station-Queue-Depth"
VERSION_HEADER = "Station-Version"
STATUS_HEADERS = (QUEUE_DEPTH_HEADER, VERSION_HEADER)
_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
#: Sent by a station every this many seconds when it has nothing to upload (last seen).
STATUS_INTERVAL_SECONDS = 60


def software_version() -> str:
    """The installed ``capture-station`` distribution's version ('' when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("capture-station")
    except PackageNotFoundError:
        return ""


@dataclass(frozen=True)
class StationReport:
    """What a station says about itself with a request (None: not said, or malformed)."""

    queue_depth: int | None = None
    version: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.queue_depth is not None:
            out[QUEUE_DEPTH_HEADER] = str(max(0, int(self.queue_depth)))
        if self.version and _VERSION_RE.fullmatch(self.version):
            out[VERSION_HEADER] = self.version
        return out

    @classmethod
    def from_signed(cls, covered: dict[str, str]) -> StationReport:
        """From the signature's covered components (``'"station-queue-depth"'`` -> value);
        a malformed value is dropped, never an error (it is display information)."""
        depth = covered.get(f'"{QUEUE_DEPTH_HEADER.lower()}"', "").strip()
        version = covered.get(f'"{VERSION_HEADER.lower()}"', "").strip()
        return cls(int(depth) if depth.isdigit() and len(depth) <= 9 else None,
                   version if _VERSION_RE.fullmatch(version) else None)


def is_item_id(value: str) -> bool:
    return bool(ITEM_ID_RE.fullmatch(value))


def station_id_for(public_raw: bytes) -> str:
    """The station id: a short hash of its Ed25519 public key, so the id names the key."""
    return "st-" + hashlib.sha256(b"capture-station-id\n" + public_raw).hexdigest()[:24]


def item_path(kind: str, item_id: str) -> str:
    return f"/v{PROTOCOL_VERSION}/{KIND_PATHS[kind]}/{item_id}"


def content_digest_value(sha256_hex: str) -> str:
    """RFC 9530 ``Content-Digest`` for a body whose SHA-256 is already known."""
    raw = bytes.fromhex(sha256_hex)
    return "sha-256=:" + base64.b64encode(raw).decode() + ":"


def parse_content_digest(value: str) -> str | None:
    """The hex SHA-256 from a ``Content-Digest`` field, or None if it has no valid sha-256."""
    for member in value.split(","):
        name, _, rest = member.strip().partition("=")
        if name.strip() != "sha-256" or not (rest.startswith(":") and rest.endswith(":")):
            continue
        try:
            raw = base64.b64decode(rest[1:-1], validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 32 else None
    return None


class ReceiptError(SyncError, ValueError):
    """A receipt is malformed, signed by another key, or names another item."""


@dataclass(frozen=True)
class Receipt:
    """What the receiver signs once an item is durably stored (and, for captures, filed)."""

    v: int
    receiver: str
    station_id: str
    kind: str
    item_id: str
    sha256: str
    size: int
    received_at: str

    def canonical(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def sign_receipt(receipt: Receipt, key: Ed25519PrivateKey) -> bytes:
    """The response body: the receipt and its Ed25519 signature, as JSON bytes."""
    signature = key.sign(RECEIPT_CONTEXT + receipt.canonical())
    body = {"receipt": asdict(receipt), "signature": base64.b64encode(signature).decode()}
    return json.dumps(body, sort_keys=True).encode()


def verify_receipt(
    body: bytes,
    public_key: Ed25519PublicKey,
    *,
    station_id: str,
    kind: str,
    item_id: str,
    sha256: str,
    size: int,
) -> Receipt:
    """Check the signature and that the receipt is for exactly this item; raise ReceiptError."""
    try:
        data = loads_json(body)
        receipt = Receipt(**data["receipt"])
        signature = base64.b64decode(data["signature"], validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:  # ParseError: a ValueError
        raise ReceiptError(f"malformed receipt ({type(exc).__name__})") from None
    try:
        public_key.verify(signature, RECEIPT_CONTEXT + receipt.canonical())
    except InvalidSignature:
        raise ReceiptError("receipt signature does not verify with the receiver's key") from None
    expected = (station_id, kind, item_id, sha256, size)
    got = (receipt.station_id, receipt.kind, receipt.item_id, receipt.sha256, receipt.size)
    if got != expected:
        raise ReceiptError("receipt is for another item")
    return receipt
