"""Who made an item, as the receiver enforces it: a station files only as itself, amends or
retracts only its own captures, and never sets the receiver's own fields from metadata.

Every refusal must file nothing: no JPEG, no note, no sealed copy, no database row.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc

import pytest

from sync import envelope as env
from sync.client import ReceiverClient
from sync.protocol import item_path
from tests.sync.helpers import new_station, noise_jpeg, seal_amendment, seal_capture, uuid7

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _put(receiver, station, kind, item_id, sealed):
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                        station.station_id, timeout=30) as client:
        return client.request("PUT", item_path(kind, item_id), body=sealed,
                              sha256_hex=hashlib.sha256(sealed).hexdigest())


def _filed(receiver) -> list[str]:
    """Every file under inbox/ and sealed/ (relative), and nothing left in incoming/."""
    assert list((receiver.data_dir / "incoming").iterdir()) == []
    return sorted(p.relative_to(receiver.data_dir).as_posix()
                  for top in ("inbox", "sealed") for p in (receiver.data_dir / top).rglob("*")
                  if p.is_file())


def _notes(receiver) -> list:
    """Every capture history (the amendments applied), wherever the capture is now."""
    return sorted(p for top in ("inbox", "retracted")
                  for p in (receiver.data_dir / top).rglob("*.history.json"))


def _entry(note, amendment_id):
    [entry] = [e for e in json.loads(note.read_text())["amendments"]
               if e["amendment_id"] == amendment_id]
    return entry


@pytest.fixture
def two(receiver):
    """Stations A and B, both approved at the same receiver."""
    a, b = new_station("exam-a"), new_station("exam-b")
    receiver.enrol_directly(a)
    receiver.enrol_directly(b)
    return a, b


def _forged(receiver, signer, named, monkeypatch):
    """A capture whose header and metadata name station ``named``, signed by ``signer``."""
    with monkeypatch.context() as patch:
        patch.setattr(env, "station_of", lambda _key: named.station_id)
        capture_id, sealed, _ = seal_capture(receiver.keys, signer, station_id=named.station_id)
    assert env.read_header(sealed).station_id == named.station_id
    return capture_id, sealed


@pytest.mark.parametrize("signer", ["registered", "unregistered"])
def test_a_file_signed_by_another_key_in_a_stations_name_is_refused(receiver, two, signer,
                                                                      monkeypatch):
    a, b = two
    key_holder = b if signer == "registered" else new_station("stranger")
    capture_id, sealed = _forged(receiver, key_holder, a, monkeypatch)
    response = _put(receiver, a, "capture", capture_id, sealed)  # A uploads it
    assert (response.status, response.error) == (422, "bad_envelope")
    assert f"not signed by station {a.station_id}" in response.json()["detail"]
    if signer == "registered":  # B uploads it: the header names A, not the uploader
        response = _put(receiver, b, "capture", capture_id, sealed)
        assert (response.status, response.error) == (422, "envelope_mismatch")
    assert _filed(receiver) == [] and receiver.store.item_count() == 0


def test_a_station_cannot_upload_another_stations_capture(receiver, two):
    a, b = two
    capture_id, sealed, _ = seal_capture(receiver.keys, b)  # honestly B's
    response = _put(receiver, a, "capture", capture_id, sealed)
    assert (response.status, response.error) == (422, "envelope_mismatch")
    assert _filed(receiver) == [] and receiver.store.item_count() == 0


@pytest.mark.parametrize("retract", [False, True])
def test_only_the_station_that_made_a_capture_can_amend_or_retract_it(receiver, two, retract):
    a, b = two
    capture_id, sealed, _ = seal_capture(receiver.keys, a)
    assert _put(receiver, a, "capture", capture_id, sealed).status == 201
    before = _filed(receiver)

    theirs, sealed_b = seal_amendment(receiver.keys, b, capture_id, retract=retract)
    response = _put(receiver, b, "amendment", theirs, sealed_b)
    assert (response.status, response.error) == (403, "not_your_capture")
    assert _filed(receiver) == before
    assert receiver.store.item(theirs) is None and receiver.store.item_count() == 1

    mine, sealed_a = seal_amendment(receiver.keys, a, capture_id, retract=retract)
    assert _put(receiver, a, "amendment", mine, sealed_a).status == 201
    [note] = _notes(receiver)
    record = _entry(note, mine)
    assert (record["amendment_id"], record["station_id"], record["retract"]) == (
        mine, a.station_id, retract)
    assert record["received_at"] == receiver.store.item(mine).received_at
    assert receiver.store.item(mine).filed_path == note.relative_to(receiver.data_dir).as_posix()


def test_an_amendment_that_arrives_first_is_applied_only_for_its_own_station(receiver, two):
    a, b = two
    capture_id = uuid7()
    theirs, sealed_b = seal_amendment(receiver.keys, b, capture_id)
    mine, sealed_a = seal_amendment(receiver.keys, a, capture_id, changes={"laterality": "right"})
    assert _put(receiver, b, "amendment", theirs, sealed_b).status == 201  # kept sealed
    assert _put(receiver, a, "amendment", mine, sealed_a).status == 201
    assert _notes(receiver) == []

    _, sealed, _ = seal_capture(receiver.keys, a, capture_id=capture_id)
    assert _put(receiver, a, "capture", capture_id, sealed).status == 201
    [note] = _notes(receiver)
    assert len(json.loads(note.read_text())["amendments"]) == 1
    record = _entry(note, mine)
    assert (record["amendment_id"], record["changes"]) == (mine, {"laterality": "right"})
    assert receiver.store.item(theirs).filed_path is None  # never touches A's capture
    assert receiver.store.item(mine).filed_path == note.relative_to(receiver.data_dir).as_posix()


def test_an_amendment_must_name_a_capture(receiver, two):
    a, _ = two
    first, sealed = seal_amendment(receiver.keys, a, uuid7())
    assert _put(receiver, a, "amendment", first, sealed).status == 201
    second, sealed = seal_amendment(receiver.keys, a, first)  # amends an amendment
    response = _put(receiver, a, "amendment", second, sealed)
    assert (response.status, response.error) == (422, "not_a_capture")
    assert receiver.store.item(second) is None


@pytest.mark.parametrize(("kind", "claim"), [
    ("capture", {"received_at": "1999-01-01T00:00:00Z"}),
    ("capture", {"sealed_sha256": "00" * 32}),
    ("amendment", {"amendment_id": "0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e5f"}),
    ("amendment", {"received_at": "1999-01-01T00:00:00Z"}),
])
def test_metadata_claiming_a_receiver_field_is_refused(receiver, two, monkeypatch, kind, claim):
    """The envelope's metadata table is closed: a key the receiver writes itself cannot even
    travel (sealed here by skipping the sealer's own check)."""
    a, _ = two
    capture_id, sealed, _ = seal_capture(receiver.keys, a)
    assert _put(receiver, a, "capture", capture_id, sealed).status == 201
    before = _filed(receiver)
    real = env.check_metadata
    with monkeypatch.context() as patch:
        patch.setattr(env, "check_metadata", lambda kind_, metadata, **_: metadata)
        if kind == "capture":
            item_id, forged, _ = seal_capture(receiver.keys, a, **claim)
        else:
            item_id, forged = seal_amendment(receiver.keys, a, capture_id)
            metadata = {"station_id": a.station_id, "amends": capture_id, "retract": False,
                        "at": "2025-03-04T11:00:00Z", "changes": {}, **claim}
            forged = env.seal("amendment", metadata, {}, recipients=[receiver.keys.practice_public],
                              station_key=a.key, item_id=item_id, subject=capture_id)
    assert env.check_metadata is real
    response = _put(receiver, a, kind, item_id, forged)
    assert (response.status, response.error) == (422, "bad_envelope")
    assert "is not defined" in response.json()["detail"]
    assert _filed(receiver) == before and receiver.store.item(item_id) is None


def test_sidecar_station_is_the_authenticated_uploader(receiver, two):
    a, _ = two
    capture_id, sealed, _ = seal_capture(receiver.keys, a, station_name="exam-a")
    assert _put(receiver, a, "capture", capture_id, sealed).status == 201
    [jpg] = receiver.filed_jpegs()
    sidecar = json.loads(jpg.with_suffix(".json").read_text())
    assert sidecar["station_id"] == a.station_id
    assert sidecar["capture_id"] == capture_id
    assert sidecar["received_at"] == receiver.store.item(capture_id).received_at
    assert sidecar["sealed_sha256"] == hashlib.sha256(sealed).hexdigest()


def test_a_large_item_is_opened_streaming(receiver, two, tmp_path):
    """A 16 MB capture is filed byte for byte while the receiver (in this process) allocates
    far less than the item: it is never held in memory whole."""
    a, _ = two
    image = noise_jpeg((3000, 3000))
    assert len(image) > 14_000_000
    capture_id, sealed, _ = seal_capture(receiver.keys, a, image=image)
    path = tmp_path / "big.sealed"
    path.write_bytes(sealed)
    digest, size = hashlib.sha256(sealed).hexdigest(), len(sealed)
    del sealed
    tracemalloc.start()
    try:
        with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, a.key, a.station_id,
                            timeout=60) as client, open(path, "rb") as stream:
            response = client.request("PUT", item_path("capture", capture_id), stream=stream,
                                      sha256_hex=digest, length=size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 201
    [jpg] = receiver.filed_jpegs()
    assert jpg.read_bytes() == image
    assert peak < len(image) // 3, f"peak {peak / 1e6:.1f} MB for a 16 MB item"
