"""Sealing straight to disk while the image is checked: one envelope, nothing left over, and a
wrong guess costs a new key."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.vault import sealing
from appliance.vault.durable import AlignedBuffer
from appliance.vault.exif import JpegError, strip_identifying_metadata
from sync.envelope import EnvelopeError, open_envelope, read_header

from .conftest import identifying_jpeg


@pytest.fixture
def worker():
    with ThreadPoolExecutor(max_workers=sealing.WORKER_THREADS) as pool:
        yield pool


@pytest.fixture
def plans(monkeypatch):
    """The plan of every envelope seal_capture_file seals (the real seal_into, observed)."""
    made = []
    real = sealing.seal_into

    def spy(plan, *args, **kwargs):
        made.append(plan)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(sealing, "seal_into", spy)
    return made


def _seal(jpeg: bytes, key: X25519PrivateKey, worker, directory, buffer=None) -> bytes:
    path = directory / f"{uuid.uuid4()}.sealed"
    size = sealing.seal_capture_file(
        jpeg, path=path, metadata=b'{"k":1}', preview=b"\xff\xd8preview\xff\xd9",
        recipients=[("practice", key.public_key())], station_id="st",
        item_id=path.name.removesuffix(".sealed"), worker=worker,
        buffer=buffer or AlignedBuffer())
    sealed = path.read_bytes()
    assert size == len(sealed)
    return sealed


@pytest.mark.parametrize("progressive,size", [(False, None), (True, None),
                                               (False, (3000, 2000))])
def test_speculation_holds_for_a_clean_image_one_seal(worker, plans, progressive, size,
                                                      tmp_path):
    key = X25519PrivateKey.generate()
    options = {"size": size} if size else {}
    jpeg = strip_identifying_metadata(identifying_jpeg(progressive=progressive, **options))
    sealed = _seal(jpeg, key, worker, tmp_path)
    assert len(plans) == 1
    opened = open_envelope(sealed, key)
    assert opened.image == jpeg and opened.metadata == {"k": 1}
    assert os.listdir(tmp_path) == [f"{opened.item_id}.sealed"]  # no temp file left
    assert os.stat(tmp_path / f"{opened.item_id}.sealed").st_mode & 0o777 == 0o600


def test_identifying_header_is_cleaned_in_the_first_seal(worker, plans, tmp_path):
    key = X25519PrivateKey.generate()
    original = identifying_jpeg()
    no_trailer = original[: original.rindex(b"\xff\xd8\xff\xe1TRAILER")]
    sealed = _seal(no_trailer, key, worker, tmp_path)
    assert len(plans) == 1  # EXIF, XMP, IPTC... are all in the header: the guess holds
    assert open_envelope(sealed, key).image == strip_identifying_metadata(original)


def test_trailer_is_cut_and_sealed_again_under_a_new_key(worker, plans, tmp_path):
    key = X25519PrivateKey.generate()
    original = identifying_jpeg()  # a secondary image trails the end-of-image marker
    sealed = _seal(original, key, worker, tmp_path)
    assert len(plans) == 2
    assert plans[0].data_key != plans[1].data_key
    assert dict(plans[0].part_lengths)["image"] > dict(plans[1].part_lengths)["image"]
    image = open_envelope(sealed, key).image
    assert image == strip_identifying_metadata(original) and b"TRAILER" not in image
    assert read_header(sealed).parts[1].length == dict(plans[1].part_lengths)["image"]
    assert len(os.listdir(tmp_path)) == 1  # the speculative temp file is gone


def test_the_reused_buffer_serves_one_capture_after_another(worker, tmp_path):
    key, buffer = X25519PrivateKey.generate(), AlignedBuffer()
    big = strip_identifying_metadata(identifying_jpeg(size=(1600, 1200)))
    small = strip_identifying_metadata(identifying_jpeg(size=(320, 240)))
    for jpeg in (big, small, big):
        assert open_envelope(_seal(jpeg, key, worker, tmp_path, buffer), key).image == jpeg
    buffer.close()


def test_truncated_image_is_refused_and_nothing_is_left(worker, plans, tmp_path):
    jpeg = strip_identifying_metadata(identifying_jpeg())
    with pytest.raises(JpegError, match="no end marker"):
        _seal(jpeg[: len(jpeg) // 2], X25519PrivateKey.generate(), worker, tmp_path)
    assert os.listdir(tmp_path) == []
    assert worker.submit(len, plans).result() <= 1  # the worker is free again


def test_a_sealing_error_leaves_nothing(worker, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise EnvelopeError("sealing broke")

    monkeypatch.setattr(sealing, "seal_into", broken)
    with pytest.raises(EnvelopeError, match="sealing broke"):
        _seal(strip_identifying_metadata(identifying_jpeg()), X25519PrivateKey.generate(),
              worker, tmp_path)
    assert os.listdir(tmp_path) == []
