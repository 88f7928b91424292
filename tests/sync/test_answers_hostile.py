"""What the station parses from the receiver (receipts, enrolment answers, error bodies) gives
only its own error type, whatever the bytes: the receiver is pinned, but a bug or a disk
error there must not kill the station's worker with a RecursionError."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.client import Response
from sync.enrol import EnrolError, _answer, _result
from sync.protocol import ReceiptError, verify_receipt
from sync.provisioning import Admin, Bundle
from tests.hostile import HOSTILE_JSON, json_bytes, json_values

KEY = Ed25519PrivateKey.generate()
BUNDLE = Bundle(receiver_name="practice", receiver_pin="ab" * 32, token="t" * 32,
                admin=Admin("it-admin", one_time_password="correct-horse-battery"))
ITEM = dict(station_id="st-" + "0" * 24, kind="capture", item_id="i", sha256="0" * 64, size=1)


@pytest.mark.parametrize("body", HOSTILE_JSON, ids=lambda d: repr(d[:16]))
def test_hostile_receipts_and_answers(body):
    with pytest.raises(ReceiptError):
        verify_receipt(body, KEY.public_key(), **ITEM)
    assert _answer(body) == {}
    assert Response(200, body).json() == {}


@settings(max_examples=200, deadline=None)
@given(json_bytes)
def test_arbitrary_bytes_give_receipt_errors(body):
    with pytest.raises(ReceiptError):
        verify_receipt(body, KEY.public_key(), **ITEM)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["practice_public_key", "receipt_public_key", "status", "station_id"]),
       json_values)
def test_arbitrary_enrolment_answers_give_enrol_errors(field, value):
    good = {"practice_public_key": base64.b64encode(b"p" * 32).decode(),
            "receipt_public_key": base64.b64encode(b"r" * 32).decode(),
            "status": "approved", "station_id": ITEM["station_id"]}
    answer = _answer(json.dumps({**good, field: value}).encode())
    try:
        _result(answer, ITEM["station_id"], BUNDLE)
    except EnrolError:
        pass
