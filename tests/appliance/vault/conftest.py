"""Shared fixtures: an enrolled state directory, a practice key pair, real JPEGs, a test clock."""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PIL import Image

from appliance.enrolment import Enrolment, save_enrolment
from appliance.paths import StatePaths
from appliance.vault import Vault
from capture.fake import FakeCamera
from sync.envelope import open_envelope as _open_envelope

PATIENT = "4711000000000815"
ISSUER = "HOSP-A"


class Clock:
    """A settable clock for review windows and leases."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def enrol(paths: StatePaths, practice: X25519PrivateKey, station_id: str = "st-test") -> None:
    raw = practice.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
    save_enrolment(paths, Enrolment(
        station_id=station_id, receiver_name="rx", receiver_pin="a" * 64,
        practice_public_key=base64.b64encode(raw).decode()))


def metadata(patient: str = PATIENT, **extra) -> dict:
    return {"patient_id": patient, "issuer": ISSUER, "encounter": "ENC-9", "operator": "nurse1",
            "consent": "clinical", "body_site": "heel", "laterality": "left", **extra}


@pytest.fixture
def practice() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


@pytest.fixture
def paths(tmp_path) -> StatePaths:
    return StatePaths(tmp_path / "state")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault(paths, practice, clock):
    enrol(paths, practice)
    v = Vault(paths, reserve_bytes=0, clock=clock, review_window_seconds=3600.0,
              lease_seconds=60.0)
    yield v
    v.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs: a real ENOSPC, not a simulated one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root; run the suite as root")
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs",
                             str(mountpoint)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here ({result.stderr.strip()})")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.fixture(scope="session")
def still() -> bytes:
    camera = FakeCamera(still_size=(640, 480))
    camera.start()
    try:
        return camera.capture_jpeg()
    finally:
        camera.close()


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def identifying_jpeg(orientation: int = 6, size=(96, 64), progressive=False) -> bytes:
    """A JPEG carrying every kind of identifying metadata a camera writes."""
    image = Image.new("RGB", size)
    image.putdata([((x * 7) % 256, (y * 5) % 256, (x * y) % 256)
                   for y in range(size[1]) for x in range(size[0])])
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x013B] = "Dr Artist Owner"
    exif[0x010F] = "AcmeCam"
    exif[0x0110] = "Model-X"
    exif[0x0131] = "Firmware 1.2.3"
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0xA431] = "BODYSERIAL123456"
    exif_ifd[0xA430] = "CameraOwnerName-Jane"
    exif_ifd[0xA435] = "LENSSERIAL98765"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 1.0)
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif, quality=90, progressive=progressive,
               comment=b"COMMENT patient 4711")
    data = buf.getvalue()
    xmp = app_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>XMPCreatorSecret"
                            b"</x:xmpmeta>")
    iptc = app_segment(0xED, b"Photoshop 3.0\x008BIM IPTCBylineSecret")
    vendor = app_segment(0xE5, b"VENDORMAKERNOTE-SERIAL")
    trailer = b"\xff\xd8\xff\xe1TRAILERIMAGE\xff\xd9"  # like an MPF secondary image
    return data[:2] + xmp + iptc + vendor + data[2:] + trailer


SECRETS = (b"Dr Artist Owner", b"BODYSERIAL123456", b"CameraOwnerName-Jane", b"LENSSERIAL98765",
           b"AcmeCam", b"Firmware 1.2.3", b"XMPCreatorSecret", b"IPTCBylineSecret",
           b"VENDORMAKERNOTE", b"COMMENT patient", b"TRAILERIMAGE")


def sealed_metadata(station_id: str, capture_id: str, **extra) -> dict:
    """Complete capture metadata for sealing directly (the vault fills these keys itself)."""
    return {**metadata(**extra), "station_id": station_id, "capture_id": capture_id,
            "captured_at": "2027-01-15T08:00:00.000+00:00"}


class Opened:
    """An opened item with the v2 parts as attributes (image, preview, records)."""

    def __init__(self, opened) -> None:
        self.raw = opened
        self.kind, self.item_id, self.header = opened.kind, opened.item_id, opened.header
        self.metadata = opened.metadata
        self.image = opened.parts.get("image", b"")
        self.preview = opened.parts.get("preview", b"")
        self.records = opened.parts.get("records", b"")


def opener(vault_or_identity):
    """``open_envelope(source, private_key)`` checking the signature of this vault's station."""
    identity = getattr(vault_or_identity, "identity", vault_or_identity)
    public = identity.private_key.public_key()

    def open_envelope(source, private_key):
        return Opened(_open_envelope(source, private_key, public))

    return open_envelope
