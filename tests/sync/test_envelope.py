"""Envelope v1: round trips, every kind of damage refused, and the published vectors reproduced.

The test vectors in ``docs/envelope-vectors.json`` are checked two ways:

1. *Opening*: each vector gives recipient private keys and the sealed bytes; opening must give
   exactly the listed plaintext parts.
2. *Re-sealing*: the single-shot HPKE API of ``cryptography`` draws a fresh ephemeral key each
   time, so a deterministic re-seal uses :func:`reference_hpke_seal` below, an independent
   RFC 9180 base-mode sender fed with the vector's ephemeral key. It is itself checked against
   the RFC's own vector (A.2.1) and against ``cryptography`` (which must open what it makes).
   With the vector's data key and these wraps, :func:`sync.envelope.seal` must reproduce the
   sealed bytes exactly.

Regenerate the vectors (only when the format changes, which means a new version):
``python -m tests.sync.test_envelope --write-vectors``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from sync import envelope as env
from sync.envelope import EnvelopeError
from tests.sync.hpke_reference import deterministic_wrap, reference_hpke_seal
from tests.sync.hpke_reference import raw_public as _raw

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "envelope-vectors.json"
PATIENT = "MRN-4711-0815"


# -- fixtures ----------------------------------------------------------------------------------


def _tiny_jpeg(size: int, colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG", quality=50)
    return buf.getvalue()


@pytest.fixture(scope="module")
def keys():
    return {"practice": X25519PrivateKey.generate(), "review": X25519PrivateKey.generate()}


def _recipients(keys):
    return [(rid, k.public_key()) for rid, k in keys.items()]


def _capture(keys, *, image=b"\xff\xd8jpeg-bytes\xff\xd9", preview=b"\xff\xd8p\xff\xd9",
             capture_id=None, station="st-1"):
    capture_id = capture_id or str(uuid.uuid4())
    meta = {"patient": PATIENT, "issuer": "HOSP", "body_site": "heel", "consent": "clinical"}
    sealed = env.seal_capture(meta, image, preview, recipients=_recipients(keys),
                              station_id=station, capture_id=capture_id)
    return sealed, meta, capture_id


# -- round trips -------------------------------------------------------------------------------


def test_capture_round_trip_for_each_recipient(keys):
    image = bytes(range(256)) * 1000
    sealed, meta, cid = _capture(keys, image=image, preview=b"preview!")
    for rid, key in keys.items():
        opened = env.open_envelope(sealed, key)
        assert opened.recipient_id == rid
        assert opened.metadata == meta
        assert opened.image == image and opened.preview == b"preview!"
        assert opened.kind == "capture" and opened.item_id == cid == opened.capture_id
        assert opened.station_id == "st-1"
        assert env.open_envelope(sealed, key, rid).recipient_id == rid
    # Nothing in the sealed bytes is readable.
    assert PATIENT.encode() not in sealed and b"heel" not in sealed
    assert image[:64] not in sealed


def test_amendment_and_audit_round_trip(keys):
    cid, aid, bid = (str(uuid.uuid4()) for _ in range(3))
    sealed = env.seal_amendment({"changes": {"body_site": "knee"}}, recipients=_recipients(keys),
                                station_id="st-1", amendment_id=aid, capture_id=cid)
    header = env.read_header(sealed)
    assert (header.kind, header.item_id, header.subject, header.capture_id) == \
        ("amendment", aid, cid, cid)
    opened = env.open_envelope(sealed, keys["practice"])
    assert opened.metadata == {"changes": {"body_site": "knee"}}
    assert opened.parts.keys() == {"metadata"}

    records = b'{"seq":1}\n{"seq":2}\n'
    sealed = env.seal_audit({"first": 1, "last": 2}, records, recipients=_recipients(keys),
                            station_id="st-1", batch_id=bid)
    opened = env.open_envelope(sealed, keys["practice"])
    assert opened.records == records and opened.header.capture_id is None
    assert opened.kind == "audit"


def test_empty_parts_round_trip(keys):
    sealed, _, _ = _capture(keys, image=b"", preview=b"")
    opened = env.open_envelope(sealed, keys["review"])
    assert opened.image == b"" and opened.preview == b""


def test_read_header_needs_no_key_and_reads_only_the_header(keys, tmp_path):
    sealed, _, cid = _capture(keys, image=b"x" * 10_000)
    path = tmp_path / env.default_name(cid)
    path.write_bytes(sealed)
    assert path.name.endswith(".sealed")
    for source in (sealed, path, str(path)):
        header = env.read_header(source)
        assert header.version == 1 and header.kind == "capture"
        assert header.station_id == "st-1" and header.capture_id == cid
        assert [r.rid for r in header.recipients] == ["practice", "review"]
        assert [p.name for p in header.parts] == ["metadata", "image", "preview"]
        assert header.total_size == len(sealed)
    stream = io.BytesIO(sealed)
    header = env.read_header(stream)
    assert stream.tell() == header.payload_offset < 2000
    assert env.recipient_id_for(keys["practice"], header) == "practice"
    assert env.recipient_id_for(X25519PrivateKey.generate(), header) is None


def test_open_accepts_path_and_stream_and_only_some_parts(keys, tmp_path):
    sealed, meta, _ = _capture(keys, image=b"I" * 5000, preview=b"P" * 50)
    path = tmp_path / "x.sealed"
    path.write_bytes(sealed)
    assert env.open_envelope(path, keys["practice"]).image == b"I" * 5000
    assert env.open_envelope(io.BytesIO(sealed), keys["practice"]).preview == b"P" * 50
    partial = env.open_envelope(sealed, keys["review"], only=["preview"])
    assert partial.preview == b"P" * 50 and partial.image == b"" and partial.metadata == meta
    with pytest.raises(EnvelopeError, match="no part 'records'"):
        env.open_envelope(sealed, keys["review"], only=["records"])


def test_seal_chunks_concatenate_to_seal(keys):
    cid = str(uuid.uuid4())
    data_key = b"\x07" * 32
    eph = {_raw(k.public_key()): X25519PrivateKey.generate() for k in keys.values()}
    parts = {"metadata": b"{}", "image": b"img", "preview": b"pre"}
    args = dict(recipients=_recipients(keys), station_id="s", item_id=cid,
                _data_key=data_key, _wrap=deterministic_wrap(eph))
    chunks = env.seal_chunks("capture", parts, **args)
    assert len(chunks) == 4
    assert b"".join(chunks) == env.seal("capture", parts, **args)


def test_each_seal_uses_a_fresh_data_key_and_ephemeral(keys):
    cid = str(uuid.uuid4())
    a, _, _ = _capture(keys, capture_id=cid)
    b, _, _ = _capture(keys, capture_id=cid)
    ha, hb = env.read_header(a), env.read_header(b)
    assert {r.enc for r in ha.recipients}.isdisjoint({r.enc for r in hb.recipients})
    assert a[ha.payload_offset:] != b[hb.payload_offset:]


def _seal_into(kind, parts, *, reports=None, worker=None, **args) -> bytes:
    plan = env.plan_envelope(kind, env.part_lengths(parts), **args)
    out = bytearray(plan.total_size + 100)
    env.seal_into(plan, parts, memoryview(out), worker=worker,
                  on_ready=None if reports is None else
                  lambda start, end: reports.append((start, end, bytes(out[start:end]))))
    assert out[plan.total_size:] == bytes(100)  # nothing written past the envelope
    return bytes(out[: plan.total_size])


@pytest.fixture
def worker():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.mark.parametrize("with_worker", [False, True])
@pytest.mark.parametrize("image_size", [0, 1000, env.STREAM_MIN, 3 * env.STREAM_CHUNK + 5,
                                        env.SPLIT_MIN + 64 * 3 + 1])
def test_seal_into_writes_exactly_what_seal_writes(keys, image_size, with_worker, worker):
    """The streamed sealer (two passes, wraps after the stretches are out, half of a large
    part encrypted on a worker) changes no byte."""
    data_key = b"\x07" * 32
    eph = {_raw(k.public_key()): X25519PrivateKey.generate() for k in keys.values()}
    image = bytes(range(256)) * (image_size // 256) + b"\xff" * (image_size % 256)
    args = dict(recipients=_recipients(keys), station_id="s", item_id=str(uuid.uuid4()),
                _data_key=data_key, _wrap=deterministic_wrap(eph))
    pieces = [image[:10], memoryview(image)[10:]]  # a part may come in pieces (no copy)
    expected = env.seal("capture", {"metadata": b"{}", "image": image, "preview": b"pre"},
                        **args)
    reports: list[tuple[int, int, bytes]] = []
    sealed = _seal_into("capture", {"metadata": b"{}", "image": pieces, "preview": b"pre"},
                        reports=reports, worker=worker if with_worker else None, **args)
    assert sealed == expected
    assert _seal_into("capture", {"metadata": b"{}", "image": pieces, "preview": b"pre"},
                      worker=worker if with_worker else None, **args) == expected
    assert reports[-1][:2] == (0, len(sealed))
    stretches = reports[:-1]
    if image_size < env.STREAM_MIN:
        assert stretches == []
        return
    # The photo's stretch is reported as it grows, from the first half-megabyte on, and every
    # byte reported is already final (a writer may put it on disk at once).
    start = env.read_header(sealed).payload_offset + len(b"{}") + env.TAG_LEN
    assert {s for s, _e, _b in stretches} == {start}
    ends = [e for _s, e, _b in stretches]
    assert ends == sorted(ends) and ends[-1] == start + image_size
    assert ends[0] - start <= env.STREAM_CHUNK
    for s, e, seen in stretches:
        assert seen == sealed[s:e]


def test_seal_into_vectors_reseal_byte_for_byte():
    for vector in _load_vectors()["vectors"]:
        recipients, ephemerals = [], {}
        for recipient in vector["recipients"]:
            private = X25519PrivateKey.from_private_bytes(
                bytes.fromhex(recipient["private_key_hex"]))
            recipients.append((recipient["rid"], private.public_key()))
            ephemerals[_raw(private.public_key())] = X25519PrivateKey.from_private_bytes(
                bytes.fromhex(recipient["ephemeral_private_key_hex"]))
        resealed = _seal_into(
            vector["kind"], _vector_parts(vector), recipients=recipients,
            station_id=vector["station_id"], item_id=vector["item_id"],
            subject=vector["subject"], _data_key=bytes.fromhex(vector["data_key_hex"]),
            _wrap=deterministic_wrap(ephemerals))
        assert resealed.hex() == vector["sealed_hex"], vector["name"]


def test_seal_into_opens_with_a_fresh_key_per_plan(keys):
    image = os.urandom(env.STREAM_MIN + 1)
    parts = {"metadata": b'{"a":1}', "image": image, "preview": b"p"}
    args = dict(recipients=_recipients(keys), station_id="s", item_id=str(uuid.uuid4()))
    one, two = _seal_into("capture", parts, **args), _seal_into("capture", parts, **args)
    for sealed in (one, two):
        for key in keys.values():
            opened = env.open_envelope(sealed, key)
            assert opened.image == image and opened.metadata == {"a": 1}
    assert one[env.read_header(one).payload_offset:] != two[env.read_header(two).payload_offset:]


def test_seal_into_waits_for_its_worker_before_failing(keys, worker, monkeypatch):
    """A failure on either thread is raised, and only once the worker has stopped writing
    into the buffer (the next capture reuses it)."""
    image = os.urandom(env.SPLIT_MIN * 2)
    parts = {"metadata": b"{}", "image": image, "preview": b""}
    args = dict(recipients=_recipients(keys), station_id="s", item_id=str(uuid.uuid4()))
    plan = env.plan_envelope("capture", {k: len(v) for k, v in parts.items()}, **args)
    out = memoryview(bytearray(plan.total_size))
    finished = []
    real = env._encrypt_range

    def slow_far_half(*a):
        time.sleep(0.2)
        real(*a)
        finished.append(True)

    def broken_writer(start, end):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(env, "_encrypt_range", slow_far_half)
    with pytest.raises(OSError, match="No space"):
        env.seal_into(plan, parts, out, worker=worker, on_ready=broken_writer)
    assert finished == [True]

    def broken_far_half(*a):
        raise RuntimeError("far half failed")

    monkeypatch.setattr(env, "_encrypt_range", broken_far_half)
    with pytest.raises(RuntimeError, match="far half failed"):
        env.seal_into(plan, parts, out, worker=worker)
    assert worker.submit(lambda: "free").result() == "free"


def test_seal_into_refuses_parts_that_do_not_match_the_plan(keys):
    args = dict(recipients=_recipients(keys), station_id="s", item_id=str(uuid.uuid4()))
    plan = env.plan_envelope("capture", {"metadata": 2, "image": 5, "preview": 0}, **args)
    out = memoryview(bytearray(plan.total_size))
    with pytest.raises(EnvelopeError, match="'image' is not the planned length"):
        env.seal_into(plan, {"metadata": b"{}", "image": b"1234", "preview": b""}, out)
    with pytest.raises(EnvelopeError, match="exactly the parts"):
        env.seal_into(plan, {"metadata": b"{}", "image": b"12345"}, out)
    with pytest.raises(EnvelopeError, match="smaller than the envelope"):
        env.seal_into(plan, {"metadata": b"{}", "image": b"12345", "preview": b""}, out[:-1])
    with pytest.raises(EnvelopeError, match="larger than"):
        env.plan_envelope("capture", {"metadata": 2, "image": env.MAX_PART + 1, "preview": 0},
                          **args)
    assert plan.total_size == plan.aad_length + 2 + 5 + 3 * env.TAG_LEN
    assert plan.offsets == [plan.aad_length, plan.aad_length + 2 + env.TAG_LEN,
                            plan.aad_length + 2 + 5 + 2 * env.TAG_LEN]


# -- refusals ----------------------------------------------------------------------------------


def test_every_single_byte_flip_is_refused(keys):
    sealed, _, _ = _capture(keys)
    assert len(sealed) < 1500
    for position in range(len(sealed)):
        for mask in (0x01, 0x80):
            damaged = bytearray(sealed)
            damaged[position] ^= mask
            for key in keys.values():
                with pytest.raises(EnvelopeError) as info:
                    env.open_envelope(bytes(damaged), key)
                assert PATIENT not in str(info.value)


def test_every_truncation_and_any_extension_is_refused(keys):
    sealed, _, _ = _capture(keys)
    for length in range(len(sealed)):
        with pytest.raises(EnvelopeError):
            env.open_envelope(sealed[:length], keys["practice"])
    with pytest.raises(EnvelopeError, match="truncated"):
        env.open_envelope(sealed[:-1], keys["practice"])
    with pytest.raises(EnvelopeError, match="unexpected bytes"):
        env.open_envelope(sealed + b"\x00", keys["practice"])
    with pytest.raises(EnvelopeError, match="too short"):
        env.read_header(io.BytesIO(sealed[:5]))
    with pytest.raises(EnvelopeError, match="truncated inside its header"):
        env.read_header(io.BytesIO(sealed[:40]))


def test_wrong_key_and_wrong_recipient_id_are_refused(keys):
    sealed, _, _ = _capture(keys)
    stranger = X25519PrivateKey.generate()
    with pytest.raises(EnvelopeError, match="not addressed to this key"):
        env.open_envelope(sealed, stranger)
    with pytest.raises(EnvelopeError, match="not addressed to this key as 'review'"):
        env.open_envelope(sealed, keys["practice"], "review")
    with pytest.raises(EnvelopeError, match="X25519 private key"):
        env.open_envelope(sealed, "not a key")


def _reheadered(sealed: bytes, **changes) -> bytes:
    """The same payload under a header with some fields changed (what an attacker can do)."""
    header = env.read_header(sealed)
    fields = json.loads(header.raw[len(env.PREFIX) + 4:])
    fields.update(changes)
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return env.PREFIX + len(body).to_bytes(4, "big") + body + sealed[header.payload_offset:]


def test_wrong_info_is_refused(keys):
    """A wrap made for another station or item does not open, even with a matching header."""
    cid = str(uuid.uuid4())
    data_key = b"\x42" * 32
    parts = {"metadata": b"{}", "image": b"img", "preview": b"pre"}

    def wrap_for_other_item(dk, public_key, info):
        other = env.hpke_info("capture", "st-1", str(uuid.uuid4()))
        assert other != info
        return Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305).encrypt(
            dk, public_key, info=other)

    sealed = env.seal("capture", parts, recipients=_recipients(keys), station_id="st-1",
                      item_id=cid, _data_key=data_key, _wrap=wrap_for_other_item)
    with pytest.raises(EnvelopeError, match="key wrap for this key does not open"):
        env.open_envelope(sealed, keys["practice"])
    # Claiming another station or item in the header breaks the wrap's info binding too.
    good, _, _ = _capture(keys, capture_id=cid)
    for change in ({"station": "st-2"}, {"id": str(uuid.uuid4())}):
        with pytest.raises(EnvelopeError, match="key wrap for this key does not open"):
            env.open_envelope(_reheadered(good, **change), keys["practice"])


def test_moved_key_wrap_is_refused(keys):
    """Pasting a valid wrap from one capture into another capture's header opens nothing."""
    a, _, _ = _capture(keys)
    b, _, _ = _capture(keys)
    wrap_a = env.read_header(a).recipients
    moved = _reheadered(b, recipients=[
        {"rid": r.rid, "kid": r.kid, "enc": base64.b64encode(r.enc).decode()} for r in wrap_a])
    with pytest.raises(EnvelopeError, match="key wrap"):
        env.open_envelope(moved, keys["practice"])


def test_header_fields_that_parse_but_differ_still_fail_authentication(keys):
    sealed, _, _ = _capture(keys)
    # Same semantic content, different bytes (spacing): the AAD no longer matches.
    header = env.read_header(sealed)
    fields = json.loads(header.raw[len(env.PREFIX) + 4:])
    body = json.dumps(fields, indent=1).encode()
    assert body != header.raw[len(env.PREFIX) + 4:]
    respun = env.PREFIX + len(body).to_bytes(4, "big") + body + sealed[header.payload_offset:]
    with pytest.raises(EnvelopeError, match="does not authenticate"):
        env.open_envelope(respun, keys["practice"])


@pytest.mark.parametrize(("change", "message"), [
    ({"v": 2}, "header version"),
    ({"kind": "selfie"}, "unknown envelope kind"),
    ({"kind": "amendment"}, "must name the capture"),
    ({"subject": "6f1c1f4e-0000-7000-8000-000000000000"}, "has no subject"),
    ({"id": "NOT-A-UUID"}, "not a UUID"),
    ({"station": ""}, "station id"),
    ({"suite": {"kem": 16, "kdf": 1, "aead": 3}}, "cipher suite"),
    ({"recipients": []}, "1 to 8 recipients"),
    ({"parts": []}, "has the parts"),
    ({"extra": 1}, "v1 fields"),
])
def test_malformed_headers_give_clear_errors(keys, change, message):
    sealed, _, _ = _capture(keys)
    with pytest.raises(EnvelopeError, match=message):
        env.read_header(_reheadered(sealed, **change))


def test_bad_magic_version_and_json(keys):
    sealed, _, _ = _capture(keys)
    with pytest.raises(EnvelopeError, match="bad magic"):
        env.read_header(b"GIF89a" + sealed[6:])
    with pytest.raises(EnvelopeError, match="unsupported envelope version 2"):
        env.read_header(env.MAGIC + b"\x02" + sealed[8:])
    with pytest.raises(EnvelopeError, match="implausible"):
        env.read_header(env.PREFIX + b"\xff\xff\xff\xff" + sealed[12:])
    body = b'{"v":1,"v":1}'
    with pytest.raises(EnvelopeError, match="repeats the key"):
        env.read_header(env.PREFIX + len(body).to_bytes(4, "big") + body)
    with pytest.raises(EnvelopeError, match="not valid JSON"):
        env.read_header(env.PREFIX + b"\x00\x00\x00\x02{x")
    with pytest.raises(EnvelopeError, match="cannot read"):
        env.read_header(Path("/nonexistent/file.sealed"))


def test_sealing_refuses_bad_input(keys):
    recips = _recipients(keys)
    cid = str(uuid.uuid4())
    ok = {"metadata": b"{}", "image": b"", "preview": b""}
    with pytest.raises(EnvelopeError, match="exactly the parts"):
        env.seal("capture", {"metadata": b"{}"}, recipients=recips, station_id="s", item_id=cid)
    with pytest.raises(EnvelopeError, match="at least one recipient"):
        env.seal("capture", ok, recipients=[], station_id="s", item_id=cid)
    with pytest.raises(EnvelopeError, match="given twice"):
        env.seal("capture", ok, recipients=[recips[0], recips[0]], station_id="s", item_id=cid)
    with pytest.raises(EnvelopeError, match="recipient ids"):
        env.seal("capture", ok, recipients=[("Bad Id", recips[0][1])], station_id="s",
                 item_id=cid)
    with pytest.raises(EnvelopeError, match="X25519 public key"):
        env.seal("capture", ok, recipients=[("x", b"raw")], station_id="s", item_id=cid)
    with pytest.raises(EnvelopeError, match="lowercase hyphenated"):
        env.seal("capture", ok, recipients=recips, station_id="s", item_id=cid.upper())
    with pytest.raises(EnvelopeError, match="station id"):
        env.seal("capture", ok, recipients=recips, station_id="a b", item_id=cid)
    with pytest.raises(EnvelopeError, match="JSON-serialisable"):
        env.seal_capture({"when": object()}, b"", b"", recipients=recips, station_id="s",
                         capture_id=cid)
    with pytest.raises(EnvelopeError, match="JSON-serialisable"):
        env.encode_metadata({"x": float("nan")})
    with pytest.raises(EnvelopeError, match="32 raw bytes"):
        env.load_public_key(b"short")
    assert env.key_id(env.load_public_key(_raw(keys["practice"].public_key()))) == \
        env.key_id(keys["practice"].public_key())


def test_metadata_must_be_an_object(keys):
    cid = str(uuid.uuid4())
    sealed = env.seal("amendment", {"metadata": b"[1,2]"}, recipients=_recipients(keys),
                      station_id="s", item_id=cid, subject=str(uuid.uuid4()))
    with pytest.raises(EnvelopeError, match="JSON object"):
        env.open_envelope(sealed, keys["practice"])


# -- published vectors -------------------------------------------------------------------------


def _load_vectors() -> dict:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def _vector_parts(vector: dict) -> dict[str, bytes]:
    return {name: bytes.fromhex(value) for name, value in vector["parts_hex"].items()}


def test_vectors_open_to_the_published_plaintext():
    vectors = _load_vectors()
    assert vectors["version"] == 1 and len(vectors["vectors"]) >= 3
    kinds = set()
    for vector in vectors["vectors"]:
        sealed = bytes.fromhex(vector["sealed_hex"])
        header = env.read_header(sealed)
        assert header.kind == vector["kind"]
        assert header.station_id == vector["station_id"]
        assert header.item_id == vector["item_id"]
        assert header.subject == vector["subject"]
        assert env.hpke_info(header.kind, header.station_id, header.item_id).hex() == \
            vector["info_hex"]
        kinds.add(header.kind)
        for recipient in vector["recipients"]:
            key = X25519PrivateKey.from_private_bytes(bytes.fromhex(recipient["private_key_hex"]))
            opened = env.open_envelope(sealed, key)
            assert opened.recipient_id == recipient["rid"]
            assert opened.parts == _vector_parts(vector), vector["name"]
            assert opened.metadata == json.loads(_vector_parts(vector)["metadata"])
    assert kinds == {"capture", "amendment", "audit"}


def test_vectors_reseal_byte_for_byte():
    for vector in _load_vectors()["vectors"]:
        recipients, ephemerals = [], {}
        for recipient in vector["recipients"]:
            private = X25519PrivateKey.from_private_bytes(
                bytes.fromhex(recipient["private_key_hex"]))
            assert _raw(private.public_key()).hex() == recipient["public_key_hex"]
            recipients.append((recipient["rid"], private.public_key()))
            ephemerals[_raw(private.public_key())] = X25519PrivateKey.from_private_bytes(
                bytes.fromhex(recipient["ephemeral_private_key_hex"]))
        resealed = env.seal(
            vector["kind"], _vector_parts(vector), recipients=recipients,
            station_id=vector["station_id"], item_id=vector["item_id"],
            subject=vector["subject"], _data_key=bytes.fromhex(vector["data_key_hex"]),
            _wrap=deterministic_wrap(ephemerals))
        assert resealed.hex() == vector["sealed_hex"], vector["name"]


def test_negative_vectors_are_refused_with_the_published_reason():
    vectors = _load_vectors()
    assert len(vectors["negative"]) >= 4
    for vector in vectors["negative"]:
        key = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["private_key_hex"]))
        with pytest.raises(EnvelopeError, match=vector["error_contains"]):
            env.open_envelope(bytes.fromhex(vector["sealed_hex"]), key)


# -- vector generation -------------------------------------------------------------------------


def _fixed_key(label: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def _private_hex(key: X25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption()).hex()


def build_vectors() -> dict:
    """Deterministic vectors from fixed labels (run only to regenerate the checked-in file)."""
    station = "st-3f2a9c1d5e7b4a60"
    practice, review = _fixed_key("vector practice key"), _fixed_key("vector review key")
    capture_id = "01890a5d-ac96-774b-bcce-b302099a8057"
    specs = [
        ("capture to practice and review", "capture", capture_id, None,
         [("practice", practice), ("review", review)],
         {"metadata": env.encode_metadata({
             "patient": "0000000000000000001", "issuer": "EXAMPLE", "body_site": "heel",
             "laterality": "left", "consent": "clinical", "captured_at": "2026-01-02T03:04:05Z",
             "ntp_synchronised": True, "station": station}),
          "image": _tiny_jpeg(16, (200, 120, 90)), "preview": _tiny_jpeg(8, (200, 120, 90))}),
        ("amendment to practice", "amendment", "01890a5d-b000-7000-8000-000000000001",
         capture_id, [("practice", practice)],
         {"metadata": env.encode_metadata({
             "amends": capture_id, "changes": {"body_site": "knee"}, "operator": "badge:42",
             "at": "2026-01-02T03:10:00Z"})}),
        ("audit batch to practice", "audit", "01890a5d-c000-7000-8000-000000000002", None,
         [("practice", practice)],
         {"metadata": env.encode_metadata({"first_seq": 1, "last_seq": 2}),
          "records": b'{"event":"capture","seq":1}\n{"event":"view","seq":2}\n'}),
    ]
    out = {"version": 1, "format": "docs/envelope.md", "vectors": [], "negative": []}
    for n, (name, kind, item_id, subject, recipients, parts) in enumerate(specs):
        ephemerals = {_raw(k.public_key()): _fixed_key(f"vector {n} ephemeral {rid}")
                      for rid, k in recipients}
        data_key = hashlib.sha256(f"vector {n} data key".encode()).digest()
        sealed = env.seal(kind, parts, recipients=[(r, k.public_key()) for r, k in recipients],
                          station_id=station, item_id=item_id, subject=subject,
                          _data_key=data_key, _wrap=deterministic_wrap(ephemerals))
        out["vectors"].append({
            "name": name, "kind": kind, "station_id": station, "item_id": item_id,
            "subject": subject, "info_hex": env.hpke_info(kind, station, item_id).hex(),
            "data_key_hex": data_key.hex(),
            "recipients": [{
                "rid": rid, "private_key_hex": _private_hex(k),
                "public_key_hex": _raw(k.public_key()).hex(),
                "ephemeral_private_key_hex": _private_hex(ephemerals[_raw(k.public_key())]),
            } for rid, k in recipients],
            "parts_hex": {k: bytes(v).hex() for k, v in parts.items()},
            "sealed_hex": sealed.hex(),
        })
    first = bytes.fromhex(out["vectors"][0]["sealed_hex"])
    header = env.read_header(first)
    flipped = bytearray(first)
    flipped[header.payload_offset + 40] ^= 0x01
    stranger = _fixed_key("vector stranger key")
    other_station = env.seal(
        "capture", specs[0][5], recipients=[("practice", practice.public_key())],
        station_id=station, item_id=capture_id, _data_key=b"\x01" * 32,
        _wrap=lambda dk, pk, info: reference_hpke_seal(
            _fixed_key("vector wrong info"), pk, env.hpke_info("capture", "st-other", capture_id),
            dk))
    negative = [
        ("payload byte flipped", bytes(flipped), practice, "does not authenticate"),
        ("truncated by one byte", first[:-1], practice, "truncated"),
        ("addressed to other keys", first, stranger, "not addressed to this key"),
        ("key wrap bound to another station", other_station, practice,
         "key wrap for this key does not open"),
    ]
    for name, sealed, key, reason in negative:
        out["negative"].append({"name": name, "private_key_hex": _private_hex(key),
                                "sealed_hex": sealed.hex(), "error_contains": reason})
    return out


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-vectors"]:
        sys.exit("usage: python -m tests.sync.test_envelope --write-vectors")
    VECTORS.parent.mkdir(exist_ok=True)
    VECTORS.write_text(json.dumps(build_vectors(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS}")
