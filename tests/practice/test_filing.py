"""Filing per patient with untrusted identifiers: paths are shaped only by safe components."""

from __future__ import annotations

import hashlib
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from practice.filing import capture_date, file_capture, safe_component

SAFE = set(string.ascii_letters + string.digits + "_-~")


@given(st.text(max_size=200))
@settings(max_examples=400)
def test_safe_component_never_shapes_a_path(raw):
    out = safe_component(raw, "fallback")
    assert out and set(out) <= SAFE
    assert out not in (".", "..") and "/" not in out and "\\" not in out
    assert len(out) <= 64


@given(st.text(max_size=80), st.text(max_size=80))
def test_different_identifiers_never_share_a_folder(a, b):
    if a != b and a and b:
        assert safe_component(a, "x") != safe_component(b, "x")


def test_clean_identifiers_are_kept_verbatim():
    assert safe_component("000123456", "x") == "000123456"
    assert safe_component("GSRN-8018", "x") == "GSRN-8018"
    assert safe_component("", "unidentified") == "unidentified"
    assert safe_component(None, "unidentified") == "unidentified"
    assert safe_component("12/34", "x").startswith("12_34~")
    assert safe_component("..", "x").startswith("x~")


def test_hostile_metadata_is_filed_inside_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    capture_id = "0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e5f"
    hostile = {"issuer": "../../etc", "patient_id": "../\x00\n/passwd",
               "captured_at": "../../2025", "body_site": "heel"}
    jpg = file_capture(inbox, capture_id, hostile, b"jpeg", received_at="2025-05-06T07:08:09Z",
                       sealed_sha256="ab" * 32, sealed_path="sealed/x.sealed")
    assert jpg.resolve().is_relative_to(inbox.resolve())
    assert jpg.name == f"2025-05-06_{capture_id}.jpg"  # unusable capture time: receipt date
    assert [p.relative_to(inbox).parts[:2] for p in inbox.rglob("*.jpg")] == [
        (jpg.parent.parent.name, jpg.parent.name)]
    sidecar = json.loads(jpg.with_suffix(".json").read_text())
    assert sidecar["patient_id"] == "../\x00\n/passwd"  # kept as data, exactly
    assert sidecar["image_sha256"] == hashlib.sha256(b"jpeg").hexdigest()


def test_capture_date_uses_utc_and_falls_back():
    assert capture_date("2025-03-04T23:30:00-02:00", "2020-01-01T00:00:00Z") == "2025-03-05"
    assert capture_date("garbage", "2020-01-01T00:00:00Z") == "2020-01-01"
    assert capture_date(None, "also garbage") == "unknown-date"
    assert capture_date("1970-01-01T00:00:00Z", "2024-02-02T00:00:00Z") == "2024-02-02"
