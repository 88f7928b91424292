"""Identifying metadata is removed without re-encoding; orientation survives."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from appliance.vault.exif import (
    JpegError,
    find_marker,
    orientation_exif,
    strip_identifying_metadata,
    stripped_pieces,
)
from appliance.vault.preview import make_preview

from .conftest import SECRETS, app_segment, identifying_jpeg


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


def _scan_data(jpeg: bytes) -> bytes:
    """Everything from the first start-of-scan marker to end of image."""
    return jpeg[jpeg.index(b"\xff\xda"): jpeg.rindex(b"\xff\xd9")]


@pytest.mark.parametrize("progressive", [False, True])
def test_identifying_metadata_is_removed_and_pixels_are_identical(progressive):
    original = identifying_jpeg(progressive=progressive)
    for secret in SECRETS:
        assert secret in original, secret
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825), "fixture must carry GPS"
    cleaned = strip_identifying_metadata(original)
    for secret in SECRETS:
        assert secret not in cleaned, secret
    with Image.open(io.BytesIO(cleaned)) as image:
        exif = image.getexif()
        assert dict(exif) == {0x0112: 6}
        assert not exif.get_ifd(0x8825) and not exif.get_ifd(0x8769)
        assert "comment" not in image.info and "xmp" not in image.info
    assert np.array_equal(_pixels(original[: original.rindex(b"\xff\xd8\xff\xe1TRAILER")]),
                          _pixels(cleaned))
    # Not re-encoded: the entropy-coded scans are carried over byte for byte.
    original_core = original[: original.rindex(b"\xff\xd8\xff\xe1TRAILER")]
    assert _scan_data(original_core) == _scan_data(cleaned)
    assert cleaned.endswith(b"\xff\xd9")


def test_without_orientation_no_exif_remains():
    image = Image.new("RGB", (32, 32), (1, 2, 3))
    exif = Image.Exif()
    exif[0x013B] = "Owner"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    cleaned = strip_identifying_metadata(buf.getvalue())
    assert b"Exif\x00\x00" not in cleaned and b"Owner" not in cleaned


def test_orientation_exif_is_readable_by_pillow():
    for value in range(1, 9):
        image = Image.new("RGB", (16, 8))
        buf = io.BytesIO()
        image.save(buf, "JPEG")
        data = buf.getvalue()
        with_orientation = data[:2] + orientation_exif(value) + data[2:]
        with Image.open(io.BytesIO(with_orientation)) as opened:
            assert opened.getexif()[0x0112] == value


def test_icc_profile_and_adobe_segments_are_kept():
    image = Image.new("RGB", (16, 16), (9, 9, 9))
    buf = io.BytesIO()
    image.save(buf, "JPEG", icc_profile=b"\x00" * 200)
    data = buf.getvalue()
    adobe = app_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
    data = data[:2] + adobe + data[2:]
    cleaned = strip_identifying_metadata(data)
    assert adobe in cleaned
    with Image.open(io.BytesIO(cleaned)) as opened:
        assert opened.info.get("icc_profile") == b"\x00" * 200


def test_jfif_thumbnail_is_dropped():
    thumb = bytes(range(12)) * 2  # 2x4 RGB thumbnail
    jfif = app_segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x04\x02" + thumb)
    image = Image.new("RGB", (16, 16))
    buf = io.BytesIO()
    image.save(buf, "JPEG")
    data = buf.getvalue()
    start = data.index(b"\xff\xe0")
    length = int.from_bytes(data[start + 2: start + 4], "big")
    data = data[:start] + jfif + data[start + 2 + length:]
    cleaned = strip_identifying_metadata(data)
    assert thumb not in cleaned
    assert b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00" in cleaned
    assert np.array_equal(_pixels(data), _pixels(cleaned))


def test_idempotent_and_camera_stills_survive(still):
    once = strip_identifying_metadata(still)
    assert strip_identifying_metadata(once) == once
    assert np.array_equal(_pixels(still), _pixels(once))


def test_pieces_join_to_the_stripped_jpeg_and_view_the_image_data(still):
    noise = np.random.default_rng(3).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=95, exif=Image.Exif())
    large = buf.getvalue()  # scan data well over the 64 KiB kept as a view
    for jpeg in (still, large):
        pieces = stripped_pieces(jpeg)
        assert b"".join(pieces) == strip_identifying_metadata(jpeg)
        assert len(pieces) <= 3  # header segments merged; scan data; end of image
    views = [p for p in stripped_pieces(large) if isinstance(p, memoryview)]
    assert len(views) == 1 and views[0].obj is large  # the scan data is not copied
    assert len(views[0]) > len(large) - 1000


def test_restart_markers_and_fill_bytes_are_handled():
    image = Image.new("RGB", (64, 64))
    image.putdata([(x * 4 % 256, y * 4 % 256, 128) for y in range(64) for x in range(64)])
    buf = io.BytesIO()
    image.save(buf, "JPEG", restart_marker_blocks=1)
    data = buf.getvalue()
    assert b"\xff\xdd" in data and b"\xff\xd0" in data  # DRI segment and RST0 in the scan
    sos_end = data.index(b"\xff\xda")
    # A fill byte before the EOI marker is legal and must not confuse the scanner.
    padded = data[:-2] + b"\xff\xff\xd9"
    cleaned = strip_identifying_metadata(padded)
    assert np.array_equal(_pixels(data), _pixels(cleaned))
    assert data[sos_end:-2] in cleaned


@pytest.mark.parametrize("junk", [b"", b"GIF89a....", b"\xff\xd8", b"\xff\xd8\xff\xe0\x00"])
def test_not_a_jpeg_is_refused(junk):
    with pytest.raises(JpegError):
        strip_identifying_metadata(junk)


def test_truncated_jpeg_is_refused(still):
    with pytest.raises(JpegError, match=r"truncated|runs past|no end marker"):
        strip_identifying_metadata(still[: len(still) // 2])


def test_preview_is_small_upright_and_metadata_free():
    cleaned = strip_identifying_metadata(identifying_jpeg(orientation=6, size=(960, 640)))
    preview = make_preview(cleaned)
    with Image.open(io.BytesIO(preview)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= 320
        assert image.size[1] > image.size[0]  # orientation 6 rotates landscape to portrait
        assert not image.getexif()
    with pytest.raises(JpegError):
        make_preview(b"\xff\xd8garbage")


def _next_marker_by_definition(data: bytes, start: int) -> int:
    """FF followed by anything but 00, D0-D7 or FF, found byte by byte."""
    for i in range(start, len(data) - 1):
        if data[i] == 0xFF and data[i + 1] not in (0x00, 0xFF, *range(0xD0, 0xD8)):
            return i
    return -1


def test_find_marker_matches_its_definition():
    rng = np.random.default_rng(7)
    # Dense in FF, stuffing, restart markers and EOI.
    alphabet = np.array([0xFF, 0xFF, 0x00, 0xD0, 0xD7, 0xD9, 0xDA, 0x12], np.uint8)
    for size in (0, 1, 2, 7, 9, 1000):
        data = rng.choice(alphabet, size).tobytes()
        for start in range(min(size, 40)):
            assert find_marker(data, start) == _next_marker_by_definition(data, start), \
                (size, start)


@pytest.mark.parametrize("progressive", [False, True])
def test_trailer_and_segments_between_scans_are_dropped(progressive):
    jpeg = identifying_jpeg(progressive=progressive)  # ends in a trailing secondary image
    plain = strip_identifying_metadata(jpeg)
    assert b"TRAILER" not in plain and plain.endswith(b"\xff\xd9")
    assert strip_identifying_metadata(jpeg[: jpeg.rindex(b"TRAILER") - 4]) == plain
    if progressive:  # a comment between two scans is dropped too
        second = plain.index(b"\xff\xda", plain.index(b"\xff\xda") + 2)
        with_comment = plain[:second] + app_segment(0xFE, b"between scans 4711") \
            + plain[second:]
        assert strip_identifying_metadata(with_comment) == plain
