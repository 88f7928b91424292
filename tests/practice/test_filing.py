"""Filing per patient with untrusted identifiers: paths are shaped only by safe components."""

from __future__ import annotations

import hashlib
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from practice.filing import (
    RECEIVER_FIELDS,
    apply_amendment,
    capture_date,
    file_capture,
    safe_component,
)

SAFE = set(string.ascii_letters + string.digits + "_-~")
CAPTURE = "0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e5f"
STATION = "st-" + "ab" * 12


def _staged(tmp_path, data: bytes = b"jpeg"):
    """A staged image file as the receiver's intake leaves it (here, written plainly)."""
    path = tmp_path / "staged.image"
    path.write_bytes(data)
    return path


def _file(inbox, metadata, staged, **overrides):
    args = {"image_sha256": hashlib.sha256(staged.read_bytes()).hexdigest(),
            "station_id": STATION, "received_at": "2025-05-06T07:08:09Z",
            "sealed_sha256": "ab" * 32, "sealed_path": "sealed/x.sealed", **overrides}
    return file_capture(inbox, CAPTURE, metadata, staged, **args)


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
    hostile = {"issuer": "../../etc", "patient_id": "../\x00\n/passwd",
               "captured_at": "../../2025", "body_site": "heel"}
    staged = _staged(tmp_path)
    jpg = _file(inbox, hostile, staged)
    assert jpg.resolve().is_relative_to(inbox.resolve())
    assert jpg.name == f"2025-05-06_{CAPTURE}.jpg"  # unusable capture time: receipt date
    assert jpg.read_bytes() == b"jpeg" and not staged.exists()  # moved into place
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


def test_metadata_never_sets_the_receivers_fields(tmp_path):
    """Even metadata the envelope would refuse cannot override what the receiver writes."""
    inbox = tmp_path / "inbox"
    claims = {field: "forged" for field in RECEIVER_FIELDS}
    metadata = {"issuer": "HOSP", "patient_id": "4711", "captured_at": "2025-01-02T03:04:05Z",
                **claims}
    jpg = _file(inbox, metadata, _staged(tmp_path))
    sidecar = json.loads(jpg.with_suffix(".json").read_text())
    assert sidecar["station_id"] == STATION and sidecar["capture_id"] == CAPTURE
    assert sidecar["received_at"] == "2025-05-06T07:08:09Z"
    assert sidecar["sealed_file"] == "sealed/x.sealed"
    assert sidecar["image_file"] == jpg.name
    assert "forged" not in sidecar.values() and "amendment_id" not in sidecar

    filed = apply_amendment(tmp_path, jpg, "0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e60",
                            {"amends": CAPTURE, "retract": True, "changes": {}, **claims},
                            station_id=STATION, received_at="2025-05-07T00:00:00Z",
                            sealed_sha256="cd" * 32, sealed_path="sealed/a.sealed")
    history = json.loads(filed.history.read_text())
    assert filed.history.name == f"{jpg.stem}.history.json"
    assert history["amendments"] == [{
        "amends": CAPTURE, "retract": True, "changes": {}, "at": None, "operator": None,
        "reason": None, "amendment_id": "0190f0c2-3b1a-7c2d-8e9f-0a1b2c3d4e60",
        "station_id": STATION, "received_at": "2025-05-07T00:00:00Z",
        "sealed_file": "sealed/a.sealed", "sealed_sha256": "cd" * 32}]


def test_filing_again_gives_the_same_files(tmp_path):
    inbox = tmp_path / "inbox"
    metadata = {"issuer": "HOSP", "patient_id": "4711", "captured_at": "2025-01-02T03:04:05Z"}
    first = _file(inbox, metadata, _staged(tmp_path, b"same"))
    before = {p: p.read_bytes() for p in inbox.rglob("*")  if p.is_file()}
    second = _file(inbox, metadata, _staged(tmp_path, b"same"))
    assert second == first
    assert {p: p.read_bytes() for p in inbox.rglob("*") if p.is_file()} == before
