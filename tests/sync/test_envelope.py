"""Envelope v2: round trips, the signature, the STREAM chunks, the strict parsers, the vectors.

``docs/envelope-vectors.json`` is checked three ways: every positive vector opens to its
published plaintext, re-seals byte for byte (the data key and the HPKE ephemeral keys are
fixed through :mod:`tests.sync.hpke_reference`; Ed25519 is deterministic), and is also
rebuilt by :func:`reference_seal`, a writer made from the spec alone, never from
:mod:`sync.envelope`; every negative vector is refused with its published reason.

Regenerate the vectors (only when the format changes, which means a new version):
``python -m tests.sync.test_envelope --write-vectors``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import envelope as env
from sync.envelope import CHUNK_SIZE, EnvelopeError
from sync.protocol import MAX_ITEM_BYTES, station_id_for
from tests.sync.hpke_reference import deterministic_wrap, raw_public, reference_hpke_seal

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "envelope-vectors.json"
CAPTURE_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
AMENDMENT_ID = "01890a5d-b000-7000-8000-000000000001"
AUDIT_ID = "01890a5d-c000-7000-8000-000000000002"
DOCUMENT_ID = "01890a5d-d000-7000-8000-000000000003"
CAPTURED_AT = "2026-01-02T03:04:05.678+00:00"


def _x25519(label: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def _ed25519(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


PRACTICE = _x25519("vector practice key")
REVIEW = _x25519("vector review key")
STRANGER = _x25519("vector stranger key")
STATION = _ed25519("vector station key")
OTHER_STATION = _ed25519("vector other station key")
STATION_ID = env.station_of(STATION.public_key())
OTHER_STATION_ID = env.station_of(OTHER_STATION.public_key())


def capture_metadata(**changes: object) -> dict:
    meta = {
        "station_id": STATION_ID, "capture_id": CAPTURE_ID, "patient_id": "0000000000000000001",
        "issuer": "EXAMPLE", "captured_at": CAPTURED_AT, "encounter": "V-2026-17",
        "operator": "badge:42", "consent": "record-only", "emergency_override": False,
        "body_site": "heel", "laterality": "left", "provenance": "scanned-gs1",
        "session_id": "5f0c3e2a-0000-4000-8000-000000000000", "sequence": 1,
        "station_name": "Room 3", "clock_synced": True,
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not ...}


def amendment_metadata(**changes: object) -> dict:
    meta = {"station_id": STATION_ID, "amends": CAPTURE_ID, "at": "2026-01-02T03:10:00Z",
            "retract": False, "changes": {"body_site": "knee"}, "operator": "badge:42"}
    meta.update(changes)
    return meta


def audit_metadata() -> dict:
    return {"station_id": STATION_ID, "first_seq": 1, "last_seq": 2, "lines": 2}


def pattern(length: int) -> bytes:
    """The vectors' stand-in image: byte ``i`` is ``i mod 251``."""
    return bytes(i % 251 for i in range(length))


def seal_capture(image: bytes = b"\xff\xd8jpeg\xff\xd9", preview: bytes = b"\xff\xd8p\xff\xd9",
                 *, metadata: dict | None = None, **args: object) -> bytes:
    args.setdefault("recipients", [PRACTICE.public_key(), REVIEW.public_key()])
    args.setdefault("station_key", STATION)
    args.setdefault("item_id", CAPTURE_ID)
    return env.seal("capture", metadata or capture_metadata(), {"image": image,
                                                                "preview": preview}, **args)


def open_capture(sealed: bytes, key: X25519PrivateKey = PRACTICE,
                 station: Ed25519PublicKey | None = None, **args: object) -> env.Opened:
    return env.open_envelope(sealed, key, station or STATION.public_key(), **args)


# -- a writer made from docs/envelope.md alone ----------------------------------------------


def reference_header(kind: str, station: str, item: str, subject: str | None,
                     wraps: list[tuple[str, bytes]], lengths: list[tuple[str, int]]) -> bytes:
    body = json.dumps({
        "kind": kind, "station": station, "id": item, "subject": subject,
        "recipients": [{"kid": kid, "enc": base64.b64encode(enc).decode()} for kid, enc in wraps],
        "parts": [{"name": name, "len": n} for name, n in lengths],
    }, sort_keys=True, separators=(",", ":")).encode("ascii")
    return b"CAPSEAL\x02" + len(body).to_bytes(2, "big") + body


def reference_chunks(head: bytes, data_key: bytes, payload: bytes) -> list[bytes]:
    count = max(1, -(-len(payload) // 65536))
    aead = ChaCha20Poly1305(data_key)
    return [aead.encrypt(i.to_bytes(11, "big") + bytes([i == count - 1]),
                         payload[i * 65536:(i + 1) * 65536], head) for i in range(count)]


def reference_signature(body: bytes, key: Ed25519PrivateKey) -> bytes:
    return key.sign(b"capture-station envelope v2 signature\n" + hashlib.sha256(body).digest())


def reference_seal(kind: str, station_key: Ed25519PrivateKey, item: str, subject: str | None,
                   recipients: list[tuple[X25519PrivateKey, X25519PrivateKey]],
                   parts: list[tuple[str, bytes]], data_key: bytes, *,
                   station: str | None = None, wrap_item: str | None = None,
                   signer: Ed25519PrivateKey | None = None) -> bytes:
    """A sealed file from the spec; every check is the caller's (so it can make bad files).
    ``recipients`` are (recipient, ephemeral) private keys."""
    station = station or station_id_for(raw_public(station_key.public_key()))
    info = b"\x00".join((b"capture-station envelope v2", kind.encode(), station.encode(),
                         (wrap_item or item).encode()))
    wraps = [(hashlib.sha256(raw_public(r.public_key())).hexdigest()[:16],
              reference_hpke_seal(e, r.public_key(), info, data_key)) for r, e in recipients]
    head = reference_header(kind, station, item, subject, wraps,
                            [(name, len(data)) for name, data in parts])
    body = head + b"".join(reference_chunks(head, data_key, b"".join(d for _n, d in parts)))
    return body + reference_signature(body, signer or station_key)


def split_file(sealed: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(header, chunks, signature) of a well-formed sealed file."""
    header = env.read_header(sealed)
    chunks, at, left = [], header.payload_offset, header.plaintext_length
    for _ in range(header.chunks):
        size = min(left, CHUNK_SIZE) + 16
        chunks.append(sealed[at:at + size])
        at, left = at + size, left - size + 16
    return header.raw, chunks, sealed[at:]


def resigned(head: bytes, chunks: list[bytes], key: Ed25519PrivateKey = STATION) -> bytes:
    body = head + b"".join(chunks)
    return body + reference_signature(body, key)


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [0, 1, CHUNK_SIZE - 600, CHUNK_SIZE, 3 * CHUNK_SIZE + 5])
def test_capture_round_trip_for_both_recipients(image_size):
    image = pattern(image_size)
    sealed = seal_capture(image, b"preview")
    header = env.read_header(sealed)
    assert len(sealed) == header.file_size
    assert (header.kind, header.station_id, header.item_id, header.capture_id) == \
        ("capture", STATION_ID, CAPTURE_ID, CAPTURE_ID)
    for key in (PRACTICE, REVIEW):
        opened = open_capture(sealed, key)
        assert opened.parts == {"image": image, "preview": b"preview"}
        assert opened.metadata == capture_metadata()
        assert opened.kid == env.key_id(key.public_key())


def test_other_kinds_round_trip():
    document = env.seal("document", capture_metadata(capture_id=DOCUMENT_ID, pages=2),
                        {"pdf": b"%PDF-1.4\n%%EOF\n", "preview": b"p"},
                        recipients=[PRACTICE.public_key()], station_key=STATION,
                        item_id=DOCUMENT_ID)
    amendment = env.seal("amendment", amendment_metadata(), {}, recipients=[
        PRACTICE.public_key()], station_key=STATION, item_id=AMENDMENT_ID, subject=CAPTURE_ID)
    audit = env.seal("audit", audit_metadata(), {"records": b'{"seq":1}\n{"seq":2}\n'},
                     recipients=[PRACTICE.public_key()], station_key=STATION, item_id=AUDIT_ID)
    assert open_capture(document).parts == {"pdf": b"%PDF-1.4\n%%EOF\n", "preview": b"p"}
    opened = open_capture(amendment)
    assert (opened.capture_id, opened.parts, opened.metadata) == \
        (CAPTURE_ID, {}, amendment_metadata())
    assert open_capture(audit).parts == {"records": b'{"seq":1}\n{"seq":2}\n'}
    assert env.read_header(audit).capture_id is None


def test_sealing_writes_as_it_goes_and_opening_streams_to_a_writer(tmp_path):
    image = pattern(5 * CHUNK_SIZE + 123)
    writes: list[bytes] = []
    size = env.seal_to(lambda data: writes.append(bytes(data)), "capture", capture_metadata(),
                       {"image": [image[:1000], memoryview(image)[1000:]], "preview": b"pv"},
                       recipients=[PRACTICE.public_key()], station_key=STATION,
                       item_id=CAPTURE_ID)
    header = env.parse_header(writes[0])
    assert len(writes) == 1 + header.chunks + 1 and header.chunks == 6
    assert all(len(w) == CHUNK_SIZE + 16 for w in writes[1:-2]) and len(writes[-1]) == 64
    assert size == sum(map(len, writes)) == header.file_size
    path = tmp_path / f"{CAPTURE_ID}.sealed"
    path.write_bytes(b"".join(writes))
    received: list[tuple[str, int]] = []
    out = io.BytesIO()

    def sink(part: str, data: memoryview) -> None:
        received.append((part, len(data)))
        if part == "image":
            out.write(data)

    opened = env.open_envelope(path, PRACTICE, STATION.public_key(), write=sink)
    assert opened.parts == {} and opened.metadata == capture_metadata()
    assert out.getvalue() == image
    assert max(n for _p, n in received) <= CHUNK_SIZE
    assert [p for p, _n in received][-1] == "preview"
    with path.open("rb") as handle:  # an open binary file works the same
        assert open_capture(handle).parts["image"] == image


def test_each_seal_draws_a_fresh_data_key_and_ephemeral():
    one, two = seal_capture(), seal_capture()
    assert env.read_header(one).recipients != env.read_header(two).recipients
    assert split_file(one)[1] != split_file(two)[1]


# -- the signature -----------------------------------------------------------------------------


def test_a_file_without_the_station_signature_is_refused():
    sealed = seal_capture(pattern(1000))
    head, chunks, _signature = split_file(sealed)
    released: list[str] = []
    for forged in (head + b"".join(chunks) + bytes(64),
                   resigned(head, chunks, OTHER_STATION)):
        with pytest.raises(EnvelopeError, match="not signed by station"):
            open_capture(forged, write=lambda part, _data: released.append(part))
    assert released == []  # no plaintext before the signature holds


def test_the_station_key_must_be_the_one_the_header_names():
    sealed = seal_capture()
    with pytest.raises(EnvelopeError, match="key given is of station"):
        open_capture(sealed, station=OTHER_STATION.public_key())


def test_a_data_key_holder_cannot_swap_the_content_under_the_signature():
    # The practice (or anyone with the review key) knows the data key and can encrypt other
    # content under it; the signature covers the ciphertext's hash, so that is refused.
    data_key = b"\x07" * 32
    ephemerals = {raw_public(PRACTICE.public_key()): _x25519("e")}
    args = {"recipients": [PRACTICE.public_key()], "_data_key": data_key,
            "_wrap": deterministic_wrap(ephemerals)}
    honest = seal_capture(b"A" * 100, **args)
    head, _chunks, signature = split_file(honest)
    payload = json.dumps(capture_metadata(), sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode() + b"B" * 100 + b"\xff\xd8p\xff\xd9"
    forged = head + b"".join(reference_chunks(head, data_key, payload)) + signature
    assert forged != honest and len(forged) == len(honest)
    with pytest.raises(EnvelopeError, match="not signed by station"):
        open_capture(forged)


def test_a_file_that_changes_between_the_two_passes_is_refused():
    data_key = b"\x09" * 32
    ephemerals = {raw_public(PRACTICE.public_key()): _x25519("e")}
    args = {"recipients": [PRACTICE.public_key()], "_data_key": data_key,
            "_wrap": deterministic_wrap(ephemerals)}
    first, second = seal_capture(b"A" * 100, **args), seal_capture(b"B" * 100, **args)
    assert split_file(first)[0] == split_file(second)[0]

    offset = env.read_header(first).payload_offset

    class Swapping:
        """Serves ``first`` until the opener starts reading the payload a second time."""

        def __init__(self) -> None:
            self.data, self.at, self.starts = first, 0, 0

        def seek(self, to: int, whence: int = 0) -> int:
            self.at = to if whence == io.SEEK_SET else len(self.data) + to
            return self.at

        def tell(self) -> int:
            return self.at

        def read(self, size: int) -> bytes:
            if self.at == offset:
                self.starts += 1
                self.data = second if self.starts == 2 else self.data
            out = self.data[self.at:self.at + size]
            self.at += len(out)
            return out

    with pytest.raises(EnvelopeError, match="changed while it was being opened"):
        open_capture(Swapping())  # type: ignore[arg-type]


# -- the chunks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_chunks() -> tuple[bytes, list[bytes]]:
    meta_len = len(json.dumps(capture_metadata(), separators=(",", ":")).encode())
    sealed = seal_capture(pattern(3 * CHUNK_SIZE - meta_len), b"")  # three full chunks
    head, chunks, _sig = split_file(sealed)
    assert len(chunks) == 3
    return head, chunks


@pytest.mark.parametrize("order", [[1, 0, 2], [0, 2, 1], [0, 0, 2], [0, 1, 1], [2, 1, 0]])
def test_reordered_or_duplicated_chunks_are_refused_even_when_resigned(three_chunks, order):
    head, chunks = three_chunks
    with pytest.raises(EnvelopeError, match="does not authenticate"):
        open_capture(resigned(head, [chunks[i] for i in order]))


def test_dropped_and_cut_chunks_are_refused(three_chunks):
    head, chunks = three_chunks
    whole = resigned(head, chunks)
    for cut in (whole[:-1], whole[:-65], whole[: len(head) + len(chunks[0])],
                resigned(head, chunks[:2]), resigned(head, chunks[1:]), whole + b"\x00"):
        with pytest.raises(EnvelopeError, match="truncated"):
            open_capture(cut)
    # The last chunk dropped and the header made to agree: the new last chunk lacks the flag
    # (and the header, which is every chunk's associated data, changed).
    fields = json.loads(head[10:])
    fields["parts"][1]["len"] -= len(chunks[2]) - 16
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    short_head = b"CAPSEAL\x02" + len(body).to_bytes(2, "big") + body
    with pytest.raises(EnvelopeError, match="chunk 0 does not authenticate"):
        open_capture(resigned(short_head, chunks[:2]))


def test_the_last_chunk_flag_is_what_ends_the_stream():
    # Same data key, same header, chunk 1 sealed without the last-chunk flag: refused.
    data_key = b"\x05" * 32
    payload_meta = json.dumps(capture_metadata(), sort_keys=True, separators=(",", ":")).encode()
    image = pattern(CHUNK_SIZE)
    sealed = seal_capture(image, b"", recipients=[PRACTICE.public_key()], _data_key=data_key,
                          _wrap=deterministic_wrap({raw_public(PRACTICE.public_key()):
                                                    _x25519("e")}))
    head, chunks, _sig = split_file(sealed)
    payload = payload_meta + image
    unflagged = ChaCha20Poly1305(data_key).encrypt(
        (1).to_bytes(11, "big") + b"\x00", payload[CHUNK_SIZE:], head)
    with pytest.raises(EnvelopeError, match="chunk 1 does not authenticate"):
        open_capture(resigned(head, [chunks[0], unflagged]))
    assert open_capture(resigned(head, chunks)).parts["image"] == image


def test_every_single_byte_flip_is_refused():
    sealed = seal_capture(b"x" * 50)
    for offset in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[offset] ^= 0x01
        with pytest.raises(EnvelopeError):
            open_capture(bytes(damaged))


# -- recipients and the key wraps ----------------------------------------------------------------


def test_a_file_not_addressed_to_the_key_is_refused():
    with pytest.raises(EnvelopeError, match="not addressed to key"):
        open_capture(seal_capture(), STRANGER)


def test_a_key_wrap_bound_to_another_item_does_not_open():
    moved = reference_seal("capture", STATION, CAPTURE_ID, None, [(PRACTICE, _x25519("e"))],
                           _capture_parts(), b"\x03" * 32, wrap_item=AMENDMENT_ID)
    with pytest.raises(EnvelopeError, match="key wrap for this key does not open"):
        open_capture(moved)


def test_two_recipients_with_one_kid_are_refused():
    twice = reference_seal("capture", STATION, CAPTURE_ID, None,
                           [(PRACTICE, _x25519("e1")), (PRACTICE, _x25519("e2"))],
                           _capture_parts(), b"\x03" * 32)
    with pytest.raises(EnvelopeError, match="same kid"):
        open_capture(twice)
    with pytest.raises(EnvelopeError, match="given twice"):
        seal_capture(recipients=[PRACTICE.public_key(), PRACTICE.public_key()])


def _capture_parts(metadata: dict | None = None, image: bytes = b"img") -> list[tuple[str, bytes]]:
    encoded = json.dumps(metadata or capture_metadata(), separators=(",", ":")).encode()
    return [("metadata", encoded), ("image", image), ("preview", b"")]


# -- metadata ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "reason"), [
    ({"station_id": OTHER_STATION_ID}, "another station"),
    ({"capture_id": AMENDMENT_ID}, "another capture"),
    ({"favourite_colour": "blue"}, "is not defined"),
    ({"patient_id": ...}, "needs 'patient_id'"),
    ({"patient_id": None}, "needs 'patient_id'"),
    ({"sequence": True}, "'sequence' is not a valid count"),
    ({"sequence": -1}, "'sequence' is not a valid count"),
    ({"clock_synced": "yes"}, "'clock_synced' is not a valid bool"),
    ({"operator": ""}, "'operator' is not a valid text"),
    ({"operator": "x" * 1025}, "'operator' is not a valid text"),
    ({"operator": "\ud800"}, "'operator' is not a valid text"),
    ({"body_site": ["heel"]}, "'body_site' is not a valid text"),
    ({"captured_at": "2026-01-02 03:04:05"}, "'captured_at' is not a valid time"),
    ({"captured_at": "2026-02-30T03:04:05Z"}, "'captured_at' is not a valid time"),
    ({"captured_at": "2026-01-02T03:04:05"}, "'captured_at' is not a valid time"),
])
def test_capture_metadata_is_checked_when_sealing_and_when_opening(changes, reason):
    metadata = capture_metadata(**changes)
    with pytest.raises(EnvelopeError, match=reason):
        seal_capture(metadata=metadata)
    if "\ud800" in str(changes):
        encoded = b'{"operator":"\\ud800"' + json.dumps(capture_metadata()).encode()[1:]
        parts = [("metadata", encoded), ("image", b""), ("preview", b"")]
    else:
        parts = _capture_parts(metadata)
    made = reference_seal("capture", STATION, CAPTURE_ID, None, [(PRACTICE, _x25519("e"))],
                          parts, b"\x04" * 32)
    with pytest.raises(EnvelopeError, match=reason):
        open_capture(made)


def test_amendments_change_only_amendable_keys_of_the_capture_they_name():
    def amend(**changes: object) -> bytes:
        return env.seal("amendment", amendment_metadata(**changes), {},
                        recipients=[PRACTICE.public_key()], station_key=STATION,
                        item_id=AMENDMENT_ID, subject=CAPTURE_ID)

    assert open_capture(amend(retract=True, changes={}, reason="wrong patient")).metadata[
        "retract"] is True
    with pytest.raises(EnvelopeError, match="'changes' is not a valid changes"):
        amend(changes={"patient_id": "someone else"})
    with pytest.raises(EnvelopeError, match="amends another capture"):
        amend(amends=DOCUMENT_ID)
    with pytest.raises(EnvelopeError, match="subject"):
        env.seal("amendment", amendment_metadata(), {}, recipients=[PRACTICE.public_key()],
                 station_key=STATION, item_id=AMENDMENT_ID)


def test_audit_sequence_numbers_are_ordered():
    with pytest.raises(EnvelopeError, match="first_seq after last_seq"):
        env.seal("audit", {**audit_metadata(), "first_seq": 3}, {"records": b""},
                 recipients=[PRACTICE.public_key()], station_key=STATION, item_id=AUDIT_ID)


def test_metadata_json_is_strict():
    for text in (b"[]", b'{"a":1,"a":1}', b"{" * 5000, b'{"sequence":' + b"9" * 5000 + b"}",
                 b'{"sequence":NaN}', b'{"sequence":Infinity}', b'{"sequence":1.5}',
                 b"\xff\xfe", b'{"issuer":"\xc3"}', b""):
        parts = [("metadata", text), ("image", b""), ("preview", b"")]
        made = reference_seal("capture", STATION, CAPTURE_ID, None, [(PRACTICE, _x25519("e"))],
                              parts, b"\x04" * 32)
        with pytest.raises(EnvelopeError, match="metadata"):
            open_capture(made)


# -- the header ----------------------------------------------------------------------------------


def _with_header(fields: object, *, raw: bytes | None = None) -> bytes:
    body = raw if raw is not None else json.dumps(fields).encode()
    return b"CAPSEAL\x02" + len(body).to_bytes(2, "big") + body


def _valid_fields() -> dict:
    return json.loads(env.read_header(seal_capture()).raw[10:])


@pytest.mark.parametrize(("change", "reason"), [
    ({"kind": "photo"}, "unknown kind"),
    ({"id": "01890a5d-ac96-474b-bcce-b302099a8057"}, "UUIDv7"),
    ({"id": CAPTURE_ID.upper()}, "UUIDv7"),
    ({"subject": CAPTURE_ID}, "has no subject"),
    ({"station": "st-BENCH"}, "station id"),
    ({"recipients": []}, "1 to 4 recipients"),
    ({"recipients": [{"kid": "00" * 8, "enc": "AA=="}]}, "base64 of 80 bytes"),
    ({"recipients": [{"kid": "00" * 8, "enc": base64.b64encode(bytes(80)).decode(),
                      "rid": "x"}]}, "exactly the keys kid and enc"),
    ({"parts": [{"name": "metadata", "len": 2}]}, "has the parts"),
    ({"parts": [{"name": "metadata", "len": 2}, {"name": "preview", "len": 0},
                {"name": "image", "len": 0}]}, "in that order"),
    ({"parts": [{"name": "metadata", "len": 2}, {"name": "image", "len": MAX_ITEM_BYTES},
                {"name": "preview", "len": 0}]}, "larger than"),
    ({"parts": [{"name": "metadata", "len": 70000}, {"name": "image", "len": 0},
                {"name": "preview", "len": 0}]}, "impossible length"),
    ({"parts": [{"name": "metadata", "len": True}, {"name": "image", "len": 0},
                {"name": "preview", "len": 0}]}, "impossible length"),
    ({"extra": 1}, "exactly the keys"),
])
def test_malformed_headers_are_refused_with_the_reason(change, reason):
    with pytest.raises(EnvelopeError, match=reason):
        env.parse_header(_with_header({**_valid_fields(), **change}))


def test_non_canonical_base64_is_refused():
    fields = _valid_fields()
    enc = fields["recipients"][0]["enc"]
    for bad in (enc.rstrip("="), enc[:-2] + chr(ord(enc[-2]) + 1) + "=", " " + enc,
                base64.urlsafe_b64encode(b"\xfb" * 80).decode()):
        fields["recipients"][0]["enc"] = bad
        with pytest.raises(EnvelopeError, match="base64"):
            env.parse_header(_with_header(fields))


@pytest.mark.parametrize("raw", [
    b"[" * 4000, b'{"kind":' + b"1" * 4000 + b"}", b'{"kind":NaN}', b'{"kind":-Infinity}',
    b'{"kind":1e400}', b'{"kind":"capture","kind":"capture"}', b'{"kind":"\xc3\xa9"}',
    b"\xff", b"", b'{"kind":"\\ud800"}',
])
def test_hostile_header_json_gives_only_envelope_errors(raw):
    with pytest.raises(EnvelopeError, match="header"):
        env.parse_header(_with_header(None, raw=raw))


def test_bad_magic_version_and_lengths():
    good = seal_capture()
    for bad, reason in ((b"CAPSEAL", "too short"), (b"NOTSEAL\x02\x00\x02{}", "bad magic"),
                        (b"CAPSEAL\x01\x00\x02{}", "version 1 is not 2"),
                        (good[:8] + b"\xff\xff" + good[10:], "longer than 4096"),
                        (good[:40], "truncated inside its header")):
        with pytest.raises(EnvelopeError, match=reason):
            env.read_header(bad)
        with pytest.raises(EnvelopeError, match=reason):
            open_capture(bad)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_only_envelope_errors(data):
    for candidate in (data, b"CAPSEAL\x02" + data, _with_header(None, raw=data[:4096])):
        try:
            env.parse_header(candidate)
        except EnvelopeError:
            pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(["kind", "station", "id", "subject", "recipients", "parts",
                               "whole"])), _json)
def test_arbitrary_json_shapes_give_only_envelope_errors(where, value):
    fields = value if where == "whole" else {**_valid_fields(), where: value}
    try:
        env.parse_header(_with_header(None, raw=json.dumps(fields).encode()[:4096]))
    except EnvelopeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(env.METADATA_FIELDS)), _json, st.text(max_size=12))
def test_arbitrary_metadata_gives_only_envelope_errors(kind, value, key):
    for metadata in (value, {**capture_metadata(), key: value}, amendment_metadata(changes=value)):
        try:
            env.check_metadata(kind, metadata, station_id=STATION_ID, item_id=CAPTURE_ID,
                               subject=CAPTURE_ID)
        except EnvelopeError:
            pass


# -- limits and sealing input --------------------------------------------------------------------


def test_the_item_size_limit_is_enforced_before_anything_is_written():
    writes: list[bytes] = []
    block = memoryview(bytes(1 << 20))
    with pytest.raises(EnvelopeError, match="larger than"):
        env.seal_to(writes.append, "capture", capture_metadata(),
                    {"image": [block] * 64, "preview": b""},
                    recipients=[PRACTICE.public_key()], station_key=STATION, item_id=CAPTURE_ID)
    assert writes == []


@pytest.mark.parametrize(("args", "reason"), [
    ({"recipients": []}, "1 to 4"),
    ({"recipients": [PRACTICE]}, "1 to 4"),
    ({"station_key": PRACTICE}, "Ed25519 private key"),
    ({"item_id": "not-a-uuid"}, "UUIDv7"),
    ({"subject": CAPTURE_ID}, "no subject"),
    ({"metadata": capture_metadata(operator=object())}, "not a valid text"),
])
def test_sealing_refuses_bad_input(args, reason):
    with pytest.raises(EnvelopeError, match=reason):
        seal_capture(**args)


def test_sealing_refuses_wrong_parts():
    for parts in ({"image": b""}, {"image": b"", "preview": b"", "pdf": b""},
                  {"image": "text", "preview": b""}, {"image": [1, 2], "preview": b""}):
        with pytest.raises(EnvelopeError, match=r"parts|a part is bytes"):
            env.seal("capture", capture_metadata(), parts, recipients=[PRACTICE.public_key()],
                     station_key=STATION, item_id=CAPTURE_ID)


def test_opening_refuses_wrong_key_types_and_unreadable_paths(tmp_path):
    with pytest.raises(EnvelopeError, match="X25519 private key"):
        env.open_envelope(seal_capture(), STATION, STATION.public_key())  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError, match="Ed25519 public key"):
        env.open_envelope(seal_capture(), PRACTICE, STATION)  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError, match="cannot read"):
        env.open_envelope(tmp_path / "missing.sealed", PRACTICE, STATION.public_key())


# -- published vectors -------------------------------------------------------------------------


def _load_vectors() -> dict:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def _plaintext(value: dict) -> bytes:
    if "pattern_length" in value:
        return pattern(value["pattern_length"])
    return bytes.fromhex(value["hex"])


def _vector_keys(vectors: dict) -> dict:
    keys = vectors["keys"]
    loaded = {}
    for name, entry in keys.items():
        if entry["type"] == "x25519":
            private = serialization.load_pem_private_key(entry["private_pkcs8_pem"].encode(),
                                                         password=None)
            assert isinstance(private, X25519PrivateKey)
            assert base64.b64decode(entry["public_raw_b64"]) == raw_public(private.public_key())
            loaded[name] = private
        else:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_raw_b64"]))
            assert station_id_for(raw_public(public)) == entry["station_id"]
            loaded[name] = public
            loaded[name + ":private"] = Ed25519PrivateKey.from_private_bytes(
                bytes.fromhex(entry["private_seed_hex"]))
    return loaded


def _sealed_bytes(entry: dict, by_name: dict[str, bytes]) -> bytes:
    if "sealed_b64" in entry:
        return base64.b64decode(entry["sealed_b64"])
    made = entry["assembled"]
    head, chunks, _sig = split_file(by_name[made["from"]])
    header = base64.b64decode(made["header_b64"]) if "header_b64" in made else head
    return header + b"".join(chunks[i] for i in made["chunks"]) + \
        base64.b64decode(made["signature_b64"])


def test_vectors_open_to_the_published_plaintext():
    vectors = _load_vectors()
    keys = _vector_keys(vectors)
    assert {v["kind"] for v in vectors["vectors"]} == set(env.KIND_PARTS)
    for vector in vectors["vectors"]:
        sealed = base64.b64decode(vector["sealed_b64"])
        header = env.read_header(sealed)
        assert (header.kind, header.station_id, header.item_id, header.subject) == \
            (vector["kind"], vector["station_id"], vector["item_id"], vector["subject"])
        assert env.hpke_info(header.kind, header.station_id, header.item_id).hex() == \
            vector["info_hex"]
        parts = {name: _plaintext(value) for name, value in vector["parts"].items()}
        for name in vector["recipients"]:
            opened = env.open_envelope(sealed, keys[name], keys[vector["signed_by"]])
            assert opened.metadata == vector["metadata"], vector["name"]
            assert opened.parts == parts, vector["name"]
            assert parts.keys() == set(env.KIND_PARTS[vector["kind"]])


def test_vectors_reseal_byte_for_byte_and_match_the_reference_writer():
    vectors = _load_vectors()
    keys = _vector_keys(vectors)
    for vector in vectors["vectors"]:
        recipients = [keys[name] for name in vector["recipients"]]
        ephemerals = {raw_public(keys[name].public_key()): X25519PrivateKey.from_private_bytes(
            bytes.fromhex(vector["ephemeral_private_hex"][name])) for name in vector["recipients"]}
        parts = {name: _plaintext(value) for name, value in vector["parts"].items()}
        data_key = bytes.fromhex(vector["data_key_hex"])
        station_key = keys[vector["signed_by"] + ":private"]
        resealed = env.seal(vector["kind"], vector["metadata"], parts,
                            recipients=[k.public_key() for k in recipients],
                            station_key=station_key, item_id=vector["item_id"],
                            subject=vector["subject"], _data_key=data_key,
                            _wrap=deterministic_wrap(ephemerals))
        assert base64.b64encode(resealed).decode() == vector["sealed_b64"], vector["name"]
        encoded = json.dumps(vector["metadata"], sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False).encode()
        reference = reference_seal(
            vector["kind"], station_key, vector["item_id"], vector["subject"],
            [(k, ephemerals[raw_public(k.public_key())]) for k in recipients],
            [("metadata", encoded)] + [(n, parts[n]) for n in env.KIND_PARTS[vector["kind"]]],
            data_key)
        assert reference == resealed, vector["name"]


def test_negative_vectors_are_refused_with_the_published_reason():
    vectors = _load_vectors()
    keys = _vector_keys(vectors)
    by_name = {v["name"]: base64.b64decode(v["sealed_b64"]) for v in vectors["vectors"]}
    assert len(vectors["negative"]) >= 12
    for entry in vectors["negative"]:
        sealed = _sealed_bytes(entry, by_name)
        with pytest.raises(EnvelopeError, match=entry["error_contains"]):
            env.open_envelope(sealed, keys[entry["open_with"]], keys[entry["station_key"]])


# -- vector generation -------------------------------------------------------------------------


def _x25519_entry(key: X25519PrivateKey) -> dict:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "x25519", "private_pkcs8_pem": pem,
            "public_raw_b64": base64.b64encode(raw_public(key.public_key())).decode()}


def _ed25519_entry(key: Ed25519PrivateKey) -> dict:
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    public = raw_public(key.public_key())
    return {"type": "ed25519", "private_seed_hex": seed.hex(),
            "public_raw_b64": base64.b64encode(public).decode(),
            "station_id": station_id_for(public)}


def build_vectors() -> dict:
    """Deterministic vectors from fixed labels (run only to regenerate the checked-in file)."""
    keys = {"practice": PRACTICE, "review": REVIEW, "stranger": STRANGER}
    two_chunks = 2 * CHUNK_SIZE  # the whole payload: exactly two full chunks
    meta = capture_metadata()
    meta_len = len(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    preview = b"\xff\xd8preview\xff\xd9"
    specs = [
        ("capture in two chunks", "capture", CAPTURE_ID, None, ["practice", "review"], meta,
         {"image": {"pattern_length": two_chunks - meta_len - len(preview)},
          "preview": {"hex": preview.hex()}}),
        ("document", "document", DOCUMENT_ID, None, ["practice", "review"],
         capture_metadata(capture_id=DOCUMENT_ID, pages=1, body_site=None, laterality=None),
         {"pdf": {"hex": b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n".hex()},
          "preview": {"hex": preview.hex()}}),
        ("amendment", "amendment", AMENDMENT_ID, CAPTURE_ID, ["practice", "review"],
         amendment_metadata(), {}),
        ("retraction", "amendment", "01890a5d-b000-7000-8000-000000000004", CAPTURE_ID,
         ["practice"], amendment_metadata(retract=True, changes={}, reason="wrong patient"), {}),
        ("audit batch", "audit", AUDIT_ID, None, ["practice"], audit_metadata(),
         {"records": {"hex": b'{"event":"capture","seq":1}\n{"event":"view","seq":2}\n'.hex()}}),
    ]
    out: dict = {
        "format": "capture-station envelope v2", "spec": "docs/envelope.md",
        "keys": {**{n: _x25519_entry(k) for n, k in keys.items()},
                 "station": _ed25519_entry(STATION),
                 "other_station": _ed25519_entry(OTHER_STATION)},
        "vectors": [], "negative": [],
    }
    for n, (name, kind, item, subject, recipients, metadata, parts) in enumerate(specs):
        ephemerals = {r: _x25519(f"vector {n} ephemeral {r}") for r in recipients}
        data_key = hashlib.sha256(f"vector {n} data key".encode()).digest()
        plain = {p: _plaintext(v) for p, v in parts.items()}
        sealed = env.seal(kind, metadata, plain,
                          recipients=[keys[r].public_key() for r in recipients],
                          station_key=STATION, item_id=item, subject=subject,
                          _data_key=data_key, _wrap=deterministic_wrap(
                              {raw_public(keys[r].public_key()): e
                               for r, e in ephemerals.items()}))
        out["vectors"].append({
            "name": name, "kind": kind, "station_id": STATION_ID, "item_id": item,
            "subject": subject, "signed_by": "station", "recipients": recipients,
            "info_hex": env.hpke_info(kind, STATION_ID, item).hex(),
            "data_key_hex": data_key.hex(),
            "ephemeral_private_hex": {
                r: e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption()).hex()
                for r, e in ephemerals.items()},
            "metadata": metadata, "parts": parts,
            "sealed_b64": base64.b64encode(sealed).decode(),
        })
    out["negative"] = _negative_vectors(
        base64.b64decode(out["vectors"][0]["sealed_b64"]), out["vectors"][0]["name"], meta,
        preview)
    return out


def _negative_vectors(base: bytes, base_name: str, meta: dict, preview: bytes) -> list[dict]:
    head, chunks, signature = split_file(base)
    image = pattern(100)
    data_key = hashlib.sha256(b"vector negative data key").digest()
    recipients = [(PRACTICE, _x25519("vector negative ephemeral"))]

    def sealed(name: str, data: bytes, reason: str, **opener: str) -> dict:
        return {"name": name, "sealed_b64": base64.b64encode(data).decode(),
                "error_contains": reason, "open_with": opener.get("open_with", "practice"),
                "station_key": opener.get("station_key", "station")}

    def assembled(name: str, order: list[int], reason: str, *, header: bytes | None = None,
                  signer: Ed25519PrivateKey | None = STATION, sig: bytes | None = None) -> dict:
        hd = header or head
        body = hd + b"".join(chunks[i] for i in order)
        if sig is None:
            sig = reference_signature(body, signer) if signer else bytes(64)
        made = {"from": base_name, "chunks": order,
                "signature_b64": base64.b64encode(sig).decode()}
        if header:
            made["header_b64"] = base64.b64encode(header).decode()
        return {"name": name, "assembled": made, "error_contains": reason,
                "open_with": "practice", "station_key": "station"}

    def small(metadata: dict, **args: object) -> bytes:
        parts = [("metadata", json.dumps(metadata, separators=(",", ":")).encode()),
                 ("image", image[:100]), ("preview", preview)]
        return reference_seal("capture", args.pop("key", STATION), CAPTURE_ID, None,
                              args.pop("recipients", recipients), parts, data_key,
                              **args)  # type: ignore[arg-type]

    fields = json.loads(head[10:])
    fields["parts"][1]["len"] -= CHUNK_SIZE
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    short_head = b"CAPSEAL\x02" + len(body).to_bytes(2, "big") + body
    return [
        assembled("forged: valid key wraps, zero signature", [0, 1],
                  "not signed by station", signer=None),
        assembled("forged: signed by another station's key", [0, 1], "not signed by station",
                  signer=OTHER_STATION),
        sealed("names another station, signed by it, opened with this station's key",
               small({**meta, "station_id": OTHER_STATION_ID}, key=OTHER_STATION),
               "key given is of station"),
        sealed("metadata names another station", small({**meta, "station_id": OTHER_STATION_ID}),
               "metadata names another station"),
        sealed("metadata names another capture", small({**meta, "capture_id": AMENDMENT_ID}),
               "metadata names another capture"),
        sealed("metadata has a key the table does not define", small({**meta, "remark": "x"}),
               "is not defined"),
        assembled("chunks swapped, re-signed", [1, 0], "chunk 0 does not authenticate"),
        assembled("chunk duplicated, re-signed", [0, 0], "chunk 1 does not authenticate"),
        assembled("last chunk dropped, re-signed", [0], "truncated or extended"),
        assembled("last chunk dropped, header lengths adjusted, re-signed", [0],
                  "chunk 0 does not authenticate", header=short_head),
        assembled("truncated: last 10 bytes cut", [0, 1], "truncated or extended",
                  sig=signature[:-10]),
        assembled("signature of a different file (the header alone)", [0, 1],
                  "not signed by station", sig=reference_signature(head, STATION)),
        sealed("not addressed to this key", small(meta), "not addressed to key",
               open_with="stranger"),
        sealed("key wrap bound to another item", small(meta, wrap_item=AMENDMENT_ID),
               "key wrap for this key does not open"),
        sealed("two recipients with the same kid",
               small(meta, recipients=[*recipients, (PRACTICE, _x25519("second"))]),
               "same kid"),
        sealed("header with a duplicate key", _with_header(
            None, raw=head[10:-1] + b',"kind":"capture"}'), "repeats a key"),
        sealed("header with a 4000-digit integer", _with_header(
            None, raw=b'{"kind":' + b"7" * 4000 + b"}"), "number is too long"),
    ]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-vectors"]:
        sys.exit("usage: python -m tests.sync.test_envelope --write-vectors")
    VECTORS.write_text(json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    print(f"wrote {VECTORS}")
