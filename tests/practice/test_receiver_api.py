"""The receiver's HTTP API against well-formed and hostile requests, over real TLS.

Every refusal must be a 4xx with a short error code and must file nothing; a repeat of a
delivered capture must return the identical receipt and file nothing twice.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json

import pytest

from practice.store import TokenError
from sync.client import ReceiverClient
from sync.pinning import PinnedHTTPSConnection
from sync.protocol import item_path, verify_receipt
from sync.signing import NOT_VERIFIED, RequestSigner
from tests.sync.helpers import new_station, seal_capture, uuid7

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _client(receiver, station):
    return ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                          station.station_id, timeout=10)


def _put(receiver, station, capture_id, sealed):
    with _client(receiver, station) as client:
        return client.request("PUT", item_path("capture", capture_id), body=sealed,
                              sha256_hex=hashlib.sha256(sealed).hexdigest())


def _raw(receiver, method, path, headers, body=b""):
    conn = PinnedHTTPSConnection("127.0.0.1", receiver.port, receiver.pin, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _nothing_filed(receiver):
    assert receiver.filed_jpegs() == []
    assert receiver.store.item_count() == 0
    assert list((receiver.data_dir / "incoming").iterdir()) == []
    assert list((receiver.data_dir / "sealed").rglob("*.sealed")) == []


def test_upload_files_capture_and_repeat_returns_same_receipt(receiver):
    station = new_station()
    target = receiver.enrol_directly(station)
    capture_id, sealed, image = seal_capture(receiver.keys, station)

    first = _put(receiver, station, capture_id, sealed)
    assert first.status == 201
    receipt = verify_receipt(first.body, receiver.keys.receipt_public,
                             station_id=target.station_id, kind="capture", item_id=capture_id,
                             sha256=hashlib.sha256(sealed).hexdigest(), size=len(sealed))
    assert receipt.receiver == receiver.keys.name

    jpgs = receiver.filed_jpegs()
    assert [p.relative_to(receiver.data_dir / "inbox").as_posix() for p in jpgs] == [
        f"GSRN-8018/000123456/2025-03-04_{capture_id}.jpg"]
    assert jpgs[0].read_bytes() == image
    sidecar = json.loads(jpgs[0].with_suffix(".json").read_text())
    assert sidecar["patient_id"] == "000123456"
    assert sidecar["body_site"] == "heel" and sidecar["laterality"] == "left"
    assert sidecar["station_id"] == station.station_id
    assert sidecar["provenance"] == "scanned-gs1"
    sealed_copy = receiver.data_dir / sidecar["sealed_file"]
    assert sealed_copy.read_bytes() == sealed

    second = _put(receiver, station, capture_id, sealed)
    assert second.status == 200
    assert second.body == first.body
    assert receiver.filed_jpegs() == jpgs
    assert receiver.store.item_count() == 1


def test_same_id_with_other_content_is_a_conflict(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    assert _put(receiver, station, capture_id, sealed).status == 201
    _, other, _ = seal_capture(receiver.keys, station, capture_id=capture_id, image=b"other")
    response = _put(receiver, station, capture_id, other)
    assert response.status == 409
    assert receiver.store.item_count() == 1


def test_unknown_station_bad_signature_and_tampered_request_are_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    digest = hashlib.sha256(sealed).hexdigest()
    path = item_path("capture", capture_id)

    stranger = new_station("stranger")
    headers = RequestSigner(stranger.key, stranger.station_id).headers(
        "PUT", path, sha256_hex=digest, length=len(sealed))
    unknown_key = _raw(receiver, "PUT", path, headers, sealed)
    assert unknown_key == (401, {"error": "bad_signature", "detail": NOT_VERIFIED})

    # signed by another key under this station's id: the very same answer (no probing which
    # station ids exist)
    forged = RequestSigner(stranger.key, station.station_id).headers(
        "PUT", path, sha256_hex=digest, length=len(sealed))
    assert _raw(receiver, "PUT", path, forged, sealed) == unknown_key

    # a valid signature for another capture id, replayed onto this path
    other_path = item_path("capture", uuid7())
    moved = RequestSigner(station.key, station.station_id).headers(
        "PUT", other_path, sha256_hex=digest, length=len(sealed))
    assert _raw(receiver, "PUT", path, moved, sealed)[0] == 401

    # no signature at all
    assert _raw(receiver, "PUT", path, {"Content-Length": str(len(sealed))}, sealed)[0] == 401
    _nothing_filed(receiver)


def test_body_that_does_not_match_the_signed_digest_is_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    path = item_path("capture", capture_id)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", path, sha256_hex=hashlib.sha256(sealed).hexdigest(), length=len(sealed))
    status, body = _raw(receiver, "PUT", path, headers, tampered)
    assert (status, body["error"]) == (400, "digest_mismatch")
    _nothing_filed(receiver)


def test_wrong_length_is_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    path = item_path("capture", capture_id)
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", path, sha256_hex=hashlib.sha256(sealed).hexdigest(), length=len(sealed))
    headers["Content-Length"] = str(len(sealed) - 10)  # not what was signed
    status, _ = _raw(receiver, "PUT", path, headers, sealed[:-10])
    assert status == 401
    # signed honestly, but the signed length is not the envelope's: it does not open
    short = sealed[:-10]
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", path, sha256_hex=hashlib.sha256(short).hexdigest(), length=len(short))
    status, body = _raw(receiver, "PUT", path, headers, short)
    assert (status, body["error"]) == (422, "bad_envelope")
    _nothing_filed(receiver)


def test_oversized_and_unsized_bodies_are_refused_before_reading(tmp_path):
    from tests.sync.helpers import start_receiver

    receiver = start_receiver(tmp_path / "r", max_item_bytes=1000)
    try:
        station = new_station()
        receiver.enrol_directly(station)
        capture_id, sealed, _ = seal_capture(receiver.keys, station, image=b"x" * 5000)
        response = _put(receiver, station, capture_id, sealed)
        assert (response.status, response.error) == (413, "too_large")
        path = item_path("capture", capture_id)
        assert _raw(receiver, "PUT", path, {"Transfer-Encoding": "chunked"}, b"0\r\n\r\n")[0] \
            == 411
        _nothing_filed(receiver)
    finally:
        receiver.stop()


@pytest.mark.parametrize("path", [
    "/v1/captures/../../etc/passwd",
    "/v1/captures/..%2F..%2Fx",
    "/v1/captures/0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e5f%00",
    "/v1/captures/0190F0C2-3B1A-7C2D-8E9F-0A1B2C3D4E5F",
    "/v1/captures/.",
    "/v1/captures/",
    "/v1/captures/a/b",
])
def test_traversal_and_malformed_ids_are_refused(receiver, path):
    station = new_station()
    receiver.enrol_directly(station)
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", "/v1/captures/x", sha256_hex=hashlib.sha256(b"abc").hexdigest(), length=3)
    status, _ = _raw(receiver, "PUT", path, headers, b"abc")
    assert 400 <= status < 500
    _nothing_filed(receiver)


def test_envelope_for_another_station_or_id_is_refused(receiver):
    station, other = new_station(), new_station("other")
    receiver.enrol_directly(station)
    receiver.enrol_directly(other)
    capture_id, sealed, _ = seal_capture(receiver.keys, other)
    response = _put(receiver, station, capture_id, sealed)  # station uploads other's capture
    assert (response.status, response.error) == (422, "envelope_mismatch")
    _, sealed2, _ = seal_capture(receiver.keys, station)
    response = _put(receiver, station, uuid7(), sealed2)  # URL id differs from envelope id
    assert (response.status, response.error) == (422, "envelope_mismatch")
    _nothing_filed(receiver)


def test_replayed_signed_request_is_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    path = item_path("capture", capture_id)
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", path, sha256_hex=hashlib.sha256(sealed).hexdigest(), length=len(sealed))
    assert _raw(receiver, "PUT", path, dict(headers), sealed)[0] == 201
    status, body = _raw(receiver, "PUT", path, dict(headers), sealed)
    assert (status, body["error"]) == (401, "replayed")
    assert receiver.store.item_count() == 1


def test_stale_signature_is_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    path = item_path("capture", capture_id)
    import time

    old = RequestSigner(station.key, station.station_id, clock=lambda: time.time() - 3600)
    headers = old.headers("PUT", path, sha256_hex=hashlib.sha256(sealed).hexdigest(),
                          length=len(sealed))
    assert _raw(receiver, "PUT", path, headers, sealed)[0] == 401
    _nothing_filed(receiver)


def test_station_with_wrong_clock_learns_receiver_time(receiver):
    import time

    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    client = ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                            station.station_id, clock=lambda: time.time() - 7200)
    with client:
        first = client.request("GET", "/v1/station")
        assert first.status == 401  # signed two hours in the past
        assert abs(client.clock_offset - 7200) < 5  # ... but the answer's Date taught it
        assert client.request("GET", "/v1/station").json()["status"] == "approved"
        response = client.request("PUT", item_path("capture", capture_id), body=sealed,
                                  sha256_hex=hashlib.sha256(sealed).hexdigest())
        assert response.status == 201


def test_revoked_and_pending_stations_are_refused(receiver):
    station = new_station()
    receiver.enrol_directly(station, status="revoked")
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    response = _put(receiver, station, capture_id, sealed)
    assert (response.status, response.error) == (403, "revoked")
    receiver.store.set_status(station.station_id, "pending")
    response = _put(receiver, station, capture_id, sealed)
    assert (response.status, response.error) == (403, "pending")
    _nothing_filed(receiver)


def _enrol_body(station, token):
    return json.dumps({"token": token, "public_key": base64.b64encode(station.public_raw)
                       .decode(), "station_name": "exam-2"}).encode()


def test_enrolment_is_one_time_and_proves_key_possession(receiver):
    token, _ = receiver.store.create_token("room 2", 600, require_approval=False)
    station = new_station()
    body = _enrol_body(station, token)
    with _client(receiver, station) as client:
        response = client.request("POST", "/v1/enrol", body=body,
                                  sha256_hex=hashlib.sha256(body).hexdigest())
        assert response.status == 200
        data = response.json()
        assert data["station_id"] == station.station_id and data["status"] == "approved"
        assert base64.b64decode(data["practice_public_key"]) == receiver.keys.practice_public_raw
        again = client.request("POST", "/v1/enrol", body=body,
                               sha256_hex=hashlib.sha256(body).hexdigest())
        assert (again.status, again.json()["detail"]) == (403, TokenError.MESSAGE)

    # a body naming one key, signed by another: refused, token untouched
    token2, _ = receiver.store.create_token("room 3", 600, require_approval=False)
    victim, thief = new_station(), new_station()
    body = _enrol_body(victim, token2)
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, thief.key,
                        victim.station_id) as client:
        response = client.request("POST", "/v1/enrol", body=body,
                                  sha256_hex=hashlib.sha256(body).hexdigest())
    assert response.status == 401
    assert receiver.store.station(victim.station_id) is None


def test_expired_token_and_malformed_json_are_refused(receiver):
    token, _ = receiver.store.create_token("room", -1, require_approval=False)
    station = new_station()
    with _client(receiver, station) as client:
        body = _enrol_body(station, token)
        response = client.request("POST", "/v1/enrol", body=body,
                                  sha256_hex=hashlib.sha256(body).hexdigest())
        assert (response.status, response.json()["detail"]) == (403, TokenError.MESSAGE)
        for bad in (b"{not json", b"[]", b'{"token": 5, "public_key": "AAAA"}', b"\xff\xfe"):
            response = client.request("POST", "/v1/enrol", body=bad,
                                      sha256_hex=hashlib.sha256(bad).hexdigest())
            assert response.status == 400, bad
    assert receiver.store.stations() == []


def test_unknown_routes_and_methods(receiver):
    conn = http.client.HTTPSConnection("127.0.0.1", receiver.port,
                                       context=__import__("sync.pinning").pinning.client_context())
    try:
        conn.request("GET", "/v1/captures/" + uuid7())
        assert conn.getresponse().status == 405
        conn.close()
        conn.request("GET", "/admin")
        assert conn.getresponse().status == 404
    finally:
        conn.close()
