"""Sealing overlapped with the image check: same envelope, and a wrong guess costs a new key."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.vault import sealing
from appliance.vault.exif import JpegError, strip_identifying_metadata
from sync.envelope import open_envelope, read_header

from .conftest import identifying_jpeg


@pytest.fixture
def worker():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
def seals(monkeypatch):
    """Every envelope sealing.seal_capture builds (the real seal_chunks, observed)."""
    made: list[bytes] = []
    real = sealing.seal_chunks

    def spy(*args, **kwargs):
        chunks = real(*args, **kwargs)
        made.append(b"".join(chunks))
        return chunks

    monkeypatch.setattr(sealing, "seal_chunks", spy)
    return made


def _seal(jpeg: bytes, key: X25519PrivateKey, worker) -> bytes:
    return b"".join(sealing.seal_capture(
        jpeg, metadata=b'{"k":1}', preview=b"\xff\xd8preview\xff\xd9",
        recipients=[("practice", key.public_key())], station_id="st",
        item_id=str(uuid.uuid4()), worker=worker))


@pytest.mark.parametrize("progressive", [False, True])
def test_speculation_holds_for_a_clean_image_one_seal(worker, seals, progressive):
    key = X25519PrivateKey.generate()
    jpeg = strip_identifying_metadata(identifying_jpeg(progressive=progressive))
    sealed = _seal(jpeg, key, worker)
    assert seals == [sealed]  # sealed once, on the worker
    opened = open_envelope(sealed, key)
    assert opened.image == jpeg and opened.metadata == {"k": 1}


def test_identifying_header_is_cleaned_in_the_first_seal(worker, seals):
    key = X25519PrivateKey.generate()
    original = identifying_jpeg()
    no_trailer = original[: original.rindex(b"\xff\xd8\xff\xe1TRAILER")]
    sealed = _seal(no_trailer, key, worker)
    assert seals == [sealed]  # EXIF, XMP, IPTC... are all in the header: the guess holds
    assert open_envelope(sealed, key).image == strip_identifying_metadata(original)


def test_trailer_is_cut_and_sealed_again_under_a_new_key(worker, seals):
    key = X25519PrivateKey.generate()
    original = identifying_jpeg()  # a secondary image trails the end-of-image marker
    sealed = _seal(original, key, worker)
    assert len(seals) == 2 and seals[1] == sealed
    image = open_envelope(sealed, key).image
    assert image == strip_identifying_metadata(original) and b"TRAILER" not in image
    # The discarded guess really held the trailer, under a different data key and key wrap.
    assert b"TRAILER" in open_envelope(seals[0], key).image
    assert read_header(seals[0]).recipients[0].enc != read_header(sealed).recipients[0].enc
    assert read_header(seals[0]).parts[1].length > read_header(sealed).parts[1].length


def test_truncated_image_is_refused_after_the_worker_is_done(worker, seals):
    jpeg = strip_identifying_metadata(identifying_jpeg())
    with pytest.raises(JpegError, match="no end marker"):
        _seal(jpeg[: len(jpeg) // 2], X25519PrivateKey.generate(), worker)
    assert worker.submit(len, seals).result() <= 1  # the worker is free again
