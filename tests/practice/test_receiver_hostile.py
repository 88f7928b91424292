"""The receiver API against hostile enrolment bodies and signature headers, at the WSGI level
(fast enough for hypothesis): every answer is a 4xx with a short code, never a 500 or a
traceback, and a request that does not carry a valid token or signature writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practice.keys import ReceiverKeys
from practice.receiver_api import ReceiverApp
from practice.store import ReceiverStore, TokenError
from sync.protocol import item_path
from sync.signing import NOT_VERIFIED, RequestSigner
from tests.hostile import HOSTILE_JSON, json_bytes, json_values
from tests.sync.helpers import new_station, uuid7

#: The app fixture is module-scoped: sharing it between examples is the point.
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("receiver")
    keys = ReceiverKeys.create(data_dir, "practice")
    store = ReceiverStore(data_dir)
    yield ReceiverApp(data_dir, keys, store)
    store.close()


def call(app: ReceiverApp, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    for name, value in (headers or {}).items():
        if name.lower() != "content-length":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: list[str] = []
    chunks = app(environ, lambda status, _headers: answer.append(status))
    return int(answer[0].split()[0]), json.loads(b"".join(chunks))


def signed_enrol(body: bytes, station=None) -> dict[str, str]:
    station = station or new_station()
    return RequestSigner(station.key, station.station_id).headers(
        "POST", "/v1/enrol", sha256_hex=hashlib.sha256(body).hexdigest(), length=len(body))


def writes(app: ReceiverApp) -> tuple[int, int]:
    """Rows the store's connection changed, and the size of its WAL (fsyncs append to it)."""
    wal = app.store.path.with_name(app.store.path.name + "-wal")
    return app.store._db.total_changes, wal.stat().st_size if wal.exists() else 0


@pytest.fixture(autouse=True)
def no_server_errors(caplog):
    caplog.set_level(logging.INFO)
    yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("body", HOSTILE_JSON, ids=lambda d: repr(d[:16]))
def test_hostile_enrolment_json_is_a_400(app, body):
    if len(body) > 16 * 1024:
        status, answer = call(app, "POST", "/v1/enrol", body)
        assert (status, answer["error"]) == (413, "too_large")
        return
    status, answer = call(app, "POST", "/v1/enrol", body, signed_enrol(body))
    assert status == 400 and answer["error"] in ("malformed_json", "malformed_request")


@pytest.mark.parametrize("fragment", [b'"token": ' + b"9" * 5000, b'"token": NaN',
                                      b'"token": 1e999', b'"token": "a", "token": "b"',
                                      b'"token": ' + b"[" * 5000 + b"]" * 5000])
def test_huge_numbers_nan_duplicates_and_nesting_inside_a_request(app, fragment):
    body = b'{"public_key": "' + base64.b64encode(b"k" * 32) + b'", ' + fragment + b"}"
    status, answer = call(app, "POST", "/v1/enrol", body, signed_enrol(body))
    assert (status, answer["error"]) == (400, "malformed_json")


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(json_bytes)
def test_arbitrary_enrolment_bytes_are_a_4xx(app, body):
    status, _ = call(app, "POST", "/v1/enrol", body, signed_enrol(body))
    assert 400 <= status < 500


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.sampled_from(["token", "public_key", "station_name"]), json_values)
def test_arbitrary_field_values_are_a_4xx(app, field, value):
    request = {"token": "t" * 32, "public_key": base64.b64encode(b"k" * 32).decode(),
               "station_name": "exam", field: value}
    body = json.dumps(request).encode()
    status, _ = call(app, "POST", "/v1/enrol", body, signed_enrol(body))
    assert 400 <= status < 500


def enrol_body(station, token: str) -> bytes:
    return json.dumps({"token": token, "public_key": base64.b64encode(station.public_raw)
                       .decode(), "station_name": station.name}).encode()


def test_unauthenticated_enrolment_writes_nothing(app):
    """No valid token: nothing is written or fsynced, however well the request is signed
    (anyone can sign with a key of their own), and no nonce row is kept."""
    before = writes(app)
    used, _ = app.store.create_token("room", 600, require_approval=False)
    expired, _ = app.store.create_token("room", -1, require_approval=False)
    first = new_station()
    assert call(app, "POST", "/v1/enrol", enrol_body(first, used),
                signed_enrol(enrol_body(first, used), first))[0] == 200
    before = writes(app)
    answers = []
    for token in ("unknown-token-" + "x" * 20, used, expired):
        station = new_station()
        body = enrol_body(station, token)
        answers.append(call(app, "POST", "/v1/enrol", body, signed_enrol(body, station)))
        unsigned = enrol_body(new_station(), token)
        assert call(app, "POST", "/v1/enrol", unsigned)[0] == 401
    # one answer for every token problem; which one it was is in the log only
    assert answers == [(403, {"error": "token", "detail": TokenError.MESSAGE})] * 3
    assert writes(app) == before
    assert app.store._db.execute("SELECT COUNT(*) FROM nonces").fetchone()[0] == 0


def test_unknown_key_and_bad_signature_answer_alike_and_write_nothing(app):
    known = new_station()
    token, _ = app.store.create_token("room", 600, require_approval=False)
    app.store.redeem_token(token, known.station_id, known.public_raw, "known")
    app.store.set_status(known.station_id, "approved")
    before = writes(app)
    path = item_path("capture", uuid7())
    body = b"sealed bytes"
    digest = hashlib.sha256(body).hexdigest()
    stranger = new_station()
    unknown = RequestSigner(stranger.key, stranger.station_id).headers(
        "PUT", path, sha256_hex=digest, length=len(body))
    forged = RequestSigner(stranger.key, known.station_id).headers(
        "PUT", path, sha256_hex=digest, length=len(body))
    garbage = {**forged, "Signature": "station=:" + "A" * 88 + ":"}
    answers = [call(app, "PUT", path, body, h) for h in (unknown, forged, garbage)]
    assert answers == [(401, {"error": "bad_signature", "detail": NOT_VERIFIED})] * 3
    assert writes(app) == before


_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=120)


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.sampled_from(["Signature-Input", "Signature", "Content-Digest"]), _header_text,
       st.sampled_from(["", "station=", 'station=("@method" "@path");', ";created=",
                        ';keyid="st-000000000000000000000000"']))
def test_arbitrary_signature_headers_are_a_401_and_write_nothing(app, name, text, prefix):
    station = new_station()
    path = item_path("capture", uuid7())
    headers = RequestSigner(station.key, station.station_id).headers(
        "PUT", path, sha256_hex=hashlib.sha256(b"x").hexdigest(), length=1)
    headers[name] = prefix + text
    before = writes(app)
    status, answer = call(app, "PUT", path, b"x", headers)
    assert status == 401 and answer["error"] == "bad_signature"
    assert writes(app) == before
