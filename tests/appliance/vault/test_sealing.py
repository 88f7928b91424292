"""Sealing straight to disk: strip, preview, seal chunk by chunk into a durable file."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PIL import Image

from appliance.vault import DiskFullError, sealing
from appliance.vault.exif import JpegError, strip_identifying_metadata
from sync.durable import DurableFile
from sync.envelope import CHUNK_SIZE, TAG_LEN, EnvelopeError, open_envelope, station_of

from .conftest import SECRETS, identifying_jpeg, sealed_metadata

CAPTURE = "0189abcd-0000-7000-8000-00000000000a"
PREVIEW = strip_identifying_metadata(identifying_jpeg(size=(32, 24)))


@pytest.fixture
def keys():
    return X25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def _seal(directory, jpeg: bytes, keys, preview: bytes | None = PREVIEW,
          **meta) -> tuple[int, object]:
    practice, station = keys
    path = directory / f"{CAPTURE}.sealed"
    size = sealing.seal_capture_file(
        path, jpeg, sealed_metadata(station_of(station.public_key()), CAPTURE, **meta),
        preview=preview, recipients=[practice.public_key()], station_key=station,
        capture_id=CAPTURE)
    assert size == path.stat().st_size
    return size, open_envelope(path, practice, station.public_key())


def test_a_capture_is_stripped_sealed_and_durable(tmp_path, keys):
    original = identifying_jpeg()  # EXIF, XMP, IPTC, a comment and a trailing image
    _size, opened = _seal(tmp_path, original, keys, preview=None)
    image = opened.parts["image"]
    assert image == strip_identifying_metadata(original)
    assert not [s for s in SECRETS if s in image]
    assert opened.metadata["capture_id"] == CAPTURE and opened.metadata["body_site"] == "heel"
    with Image.open(io.BytesIO(opened.parts["preview"])) as preview:
        assert max(preview.size) <= 320  # made from the stripped image
    assert os.listdir(tmp_path) == [f"{CAPTURE}.sealed"]  # no temp file left
    assert os.stat(tmp_path / f"{CAPTURE}.sealed").st_mode & 0o777 == 0o600


def test_a_given_preview_is_stripped_too(tmp_path, keys):
    _size, opened = _seal(tmp_path, identifying_jpeg(), keys, preview=identifying_jpeg())
    assert opened.parts["preview"] == strip_identifying_metadata(identifying_jpeg())


def test_each_chunk_is_written_as_it_is_sealed(tmp_path, keys, monkeypatch):
    writes: list[int] = []
    real = DurableFile.write

    def spy(self, data):
        writes.append(len(data))
        return real(self, data)

    monkeypatch.setattr(DurableFile, "write", spy)
    jpeg = strip_identifying_metadata(identifying_jpeg(size=(1600, 1200)))
    size, _opened = _seal(tmp_path, jpeg, keys)
    assert sum(writes) == size
    chunks = writes[1:-1]  # between the header and the signature
    assert len(chunks) >= 3 and max(chunks) == CHUNK_SIZE + TAG_LEN


def test_truncated_image_is_refused_and_nothing_is_left(tmp_path, keys):
    jpeg = strip_identifying_metadata(identifying_jpeg())
    with pytest.raises(JpegError, match="no end marker"):
        _seal(tmp_path, jpeg[: len(jpeg) // 2], keys)
    assert os.listdir(tmp_path) == []


def test_metadata_outside_the_table_is_refused_before_writing(tmp_path, keys):
    with pytest.raises(EnvelopeError, match="not defined for a capture"):
        _seal(tmp_path, identifying_jpeg(), keys, remark="free text")
    assert os.listdir(tmp_path) == []


def test_never_replaces_an_existing_file(tmp_path, keys):
    (tmp_path / f"{CAPTURE}.sealed").write_bytes(b"kept")
    with pytest.raises(FileExistsError):
        _seal(tmp_path, identifying_jpeg(), keys)
    assert os.listdir(tmp_path) == [f"{CAPTURE}.sealed"]
    assert (tmp_path / f"{CAPTURE}.sealed").read_bytes() == b"kept"


@pytest.mark.root
def test_a_full_disk_is_a_disk_full_error_and_leaves_nothing(small_disk, keys):
    practice, station = keys
    with pytest.raises(DiskFullError):
        sealing.write_sealed(
            small_disk / "big.sealed", "audit",
            {"station_id": station_of(station.public_key()), "first_seq": 1, "last_seq": 1,
             "lines": 1},
            {"records": bytes(4 << 20)}, recipients=[practice.public_key()],
            station_key=station, item_id=CAPTURE)
    assert os.listdir(small_disk) == []
