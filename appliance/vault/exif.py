"""Remove identifying metadata from a JPEG without re-encoding it.

Cameras write GPS positions, body and lens serial numbers, owner names, software versions and
comments into EXIF (APP1), XMP (APP1), IPTC (APP13), vendor segments (APP3-APP15) and COM. None
of that belongs in a clinical record, so the image is rebuilt segment by segment:

* kept byte for byte: quantisation and Huffman tables, frame and scan headers, the entropy-coded
  image data, restart markers, ICC colour profiles (APP2) and the Adobe colour marker (APP14);
* JFIF (APP0) kept without its embedded thumbnail; JFXX extension thumbnails dropped;
* EXIF replaced by a 32-byte EXIF that holds only the Orientation tag, when there was one, so
  the image still shows the right way up;
* everything else dropped, and any bytes after the end-of-image marker too (multi-picture
  trailers such as MPF secondary images).

The pixels are untouched: decoding the result gives exactly the original image.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from .errors import JpegError

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_SOS = 0xDA
_KEEP_APP = {0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}
_ORIENTATION_TAG = 0x0112
#: Pieces at least this long are handed out as views, not copied (see :func:`stripped_pieces`).
_BIG = 64 * 1024
#: Bytes :func:`find_markers` compares at a time (its temporary fits in a core's cache).
_BLOCK = 256 * 1024


def _orientation(exif: bytes) -> int | None:
    """The Orientation value from an EXIF APP1 payload, or None if absent or unreadable."""
    if not exif.startswith(b"Exif\x00\x00"):
        return None
    tiff = exif[6:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        magic, ifd = struct.unpack_from(order + "HI", tiff, 2)
        if magic != 42:
            return None
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for n in range(count):
            tag, kind, num = struct.unpack_from(order + "HHI", tiff, ifd + 2 + 12 * n)
            if tag == _ORIENTATION_TAG and kind == 3 and num == 1:
                (value,) = struct.unpack_from(order + "H", tiff, ifd + 2 + 12 * n + 8)
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def orientation_exif(value: int) -> bytes:
    """An APP1 segment with a big-endian EXIF holding just Orientation = ``value``."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", _ORIENTATION_TAG, 3, 1, value, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jfif_without_thumbnail(payload: bytes) -> bytes | None:
    if not payload.startswith(b"JFIF\x00") or len(payload) < 14:
        return None
    core = payload[:12] + b"\x00\x00"  # identifier, version, units, densities; no thumbnail
    return b"\xff\xe0" + struct.pack(">H", len(core) + 2) + core


def find_markers(jpeg: bytes | memoryview, start: int = 0) -> np.ndarray:
    """Offsets (ascending) from ``start`` on of every ``0xFF`` followed by a marker byte.

    Those are the only places where entropy-coded data can end: inside it, ``0xFF`` is always
    followed by a stuffing ``00``, a restart marker (D0-D7) or another fill ``FF``. The offsets
    are what the regular expression ``FF [01-CF D8-FE]`` would find, but computed with numpy,
    whose loops over the megabytes of a photo run without the interpreter lock, so another
    thread can encrypt at the same time (see :mod:`.sealing`). Only about one byte in 256 of
    compressed data is ``0xFF``; the comparison is done on all bytes, the rest on those few.
    """
    data = np.frombuffer(jpeg, np.uint8)[start:]
    n = len(data) - 1  # the last byte has no follower
    if n <= 0:
        return np.empty(0, np.int64)
    whole = n // 8 * 8
    # Per block of the image data (so the temporary stays in the cache): compare every byte,
    # look through 8-byte words (8x fewer elements) for those holding an FF, then find the FF
    # bytes inside them: each hit word's lowest set byte, again while any are left.
    is_ff = np.empty(min(_BLOCK, whole), np.bool_)
    word_hits, word_bits = [], []
    for offset in range(0, whole, _BLOCK):
        block = is_ff[: min(_BLOCK, whole - offset)]
        np.equal(data[offset: offset + len(block)], 0xFF, out=block)
        packed = block.view("<u8")  # little-endian: byte i is bits 8i..8i+7
        hit = np.flatnonzero(packed != 0)
        word_hits.append(hit + offset // 8)
        word_bits.append(packed[hit])
    words = np.concatenate(word_hits) if word_hits else np.empty(0, np.int64)
    bits = np.concatenate(word_bits) if word_bits else np.empty(0, "<u8")
    found = []
    while len(words):
        low = bits & (~bits + np.uint64(1))  # the lowest set bit: 1 << (8 * byte index)
        found.append(words * 8 + (np.log2(low.astype(np.float64)).astype(np.int64) >> 3))
        bits = bits ^ low
        more = bits != 0
        words, bits = words[more], bits[more]
    found.append(np.flatnonzero(data[whole:n] == 0xFF) + whole)
    hits = np.sort(np.concatenate(found)) if len(found) > 2 else np.concatenate(found)
    follower = data[hits + 1]
    real = (follower != 0x00) & (follower != 0xFF) & ((follower & 0xF8) != 0xD0)
    return hits[real] + start


class StripPlan(NamedTuple):
    """How to rebuild a JPEG without identifying metadata, without copying anything yet.

    ``head`` is the rebuilt header: every kept segment before the first scan (or the end of
    the image), joined; it is small. ``scan_at`` is where that first scan starts in the
    original. ``tail`` is what follows, in order: ``(start, end)`` ranges copied from the
    original (adjacent ranges merged) or new bytes; it is empty for a head-only plan.
    """

    head: bytes
    scan_at: int
    tail: tuple[tuple[int, int] | bytes, ...]

    def tail_is_rest_of(self, size: int) -> bool:
        """True if the rebuilt JPEG is ``head`` + the original from ``scan_at`` to ``size``:
        nothing after the first scan is dropped or changed and nothing trails the image."""
        return self.tail == ((self.scan_at, size),)

    def pieces(self, jpeg: bytes) -> list[bytes | memoryview]:
        """The rebuilt JPEG as pieces to concatenate (copied ranges as views of ``jpeg``)."""
        data = memoryview(jpeg)
        out: list[bytes | memoryview] = [self.head]
        for op in self.tail:
            out.append(data[op[0]: op[1]] if isinstance(op, tuple) else op)
        return _coalesce(out)


def strip_identifying_metadata(jpeg: bytes) -> bytes:
    """The same JPEG with only decoding-relevant segments (see module doc). Raises JpegError."""
    return b"".join(stripped_pieces(jpeg))


def stripped_pieces(jpeg: bytes) -> list[bytes | memoryview]:
    """:func:`strip_identifying_metadata` as pieces to concatenate, without joining them.

    The entropy-coded data (nearly all of a photo) comes back as a view into ``jpeg``, so a
    caller that encrypts piece by piece never copies the image; runs of small segments are
    joined into one piece. Raises JpegError.
    """
    return strip_plan(jpeg).pieces(jpeg)


def strip_plan(jpeg: bytes, *, head_only: bool = False,
               markers: np.ndarray | None = None) -> StripPlan:
    """Walk the segments of ``jpeg`` and decide what stays (see module doc). Raises JpegError.

    ``head_only`` stops at the first scan (or end of image) marker: that takes microseconds,
    while finding where the scans end means looking at every byte of the image data
    (:func:`find_markers`, computed here unless ``markers`` is given).
    """
    data = memoryview(jpeg)
    size = len(data)
    if size < 4 or bytes(data[:2]) != SOI:
        raise JpegError("not a JPEG image (no start-of-image marker)")
    head: list[bytes | memoryview] = [SOI]
    tail: list[tuple[int, int] | bytes] = []
    out: list = head
    scan_at = -1
    pos = 2
    orientation: int | None = None
    exif_at: tuple[list, int] | None = None
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise JpegError("damaged JPEG: expected a marker")
        while pos + 1 < size and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= size:
            raise JpegError("damaged JPEG: truncated at a marker")
        marker = data[pos + 1]
        if scan_at < 0 and marker in (_SOS, 0xD9):
            scan_at = pos
            if head_only:
                break
            out = tail
        if marker == 0xD9:
            out.append((pos, pos + 2) if out is tail else EOI)
            break
        if marker in _STANDALONE:
            out.append((pos, pos + 2) if out is tail else data[pos: pos + 2])
            pos += 2
            continue
        if pos + 4 > size:
            raise JpegError("damaged JPEG: truncated segment header")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > size:
            raise JpegError("damaged JPEG: segment runs past the end")
        payload = bytes(data[pos + 4: end]) if 0xE0 <= marker <= 0xEF or marker == 0xFE \
            else b""
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            if orientation is None:
                orientation = _orientation(payload)
                exif_at = (out, len(out))
        elif marker == 0xE0:
            jfif = _jfif_without_thumbnail(payload)
            if jfif is not None:
                out.append(jfif)
        elif 0xE1 <= marker <= 0xEF or marker == 0xFE:
            if any(payload.startswith(p) for p in _KEEP_APP.get(marker, ())):
                out.append((pos, end) if out is tail else data[pos:end])
        elif marker == _SOS:
            if markers is None:  # the first scan is always in the tail
                markers = find_markers(jpeg, end)
            found = int(np.searchsorted(markers, end))
            if found == len(markers):
                raise JpegError("damaged JPEG: image data has no end marker (truncated?)")
            tail.append((pos, end))  # the scan header; entropy-coded data up to the marker:
            tail.append((end, int(markers[found])))
            pos = int(markers[found])
            continue
        else:
            out.append((pos, end) if out is tail else data[pos:end])
        pos = end
    if orientation is not None and exif_at is not None:
        exif_at[0].insert(exif_at[1], orientation_exif(orientation))
    return StripPlan(b"".join(head), scan_at if scan_at >= 0 else size, tuple(_merge(tail)))


def _merge(ops: list[tuple[int, int] | bytes]) -> list[tuple[int, int] | bytes]:
    """Join copy ranges that continue each other, so a verbatim run is one range."""
    result: list[tuple[int, int] | bytes] = []
    for op in ops:
        last = result[-1] if result else None
        if isinstance(op, tuple) and isinstance(last, tuple) and last[1] == op[0]:
            result[-1] = (last[0], op[1])
        else:
            result.append(op)
    return result


def _coalesce(pieces: list[bytes | memoryview]) -> list[bytes | memoryview]:
    """Join runs of pieces smaller than :data:`_BIG` (headers, markers); keep big views."""
    result: list[bytes | memoryview] = []
    small: list[bytes | memoryview] = []
    for piece in pieces:
        if len(piece) >= _BIG:
            if small:
                result.append(b"".join(small))
                small = []
            result.append(piece)
        else:
            small.append(piece)
    if small:
        result.append(b"".join(small))
    return result
