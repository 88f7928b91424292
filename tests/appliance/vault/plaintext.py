"""Scan a directory tree for anything readable that must never be at rest.

JPEG detection looks for a start-of-image marker followed by a well-formed first segment, so
random ciphertext (where three given bytes turn up every 16 MB or so) does not raise alarms,
while any real JPEG, thumbnail or preview does.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1."
EXIF = b"Exif\x00\x00"
JFIF = b"JFIF\x00"
_FIRST_SEGMENT = {*range(0xE0, 0xF0), 0xDB, 0xC4, 0xC0, 0xC2, 0xFE, 0xDD}


def jpeg_offsets(data: bytes) -> list[int]:
    found = []
    start = 0
    while (i := data.find(b"\xff\xd8\xff", start)) >= 0:
        start = i + 1
        if i + 6 > len(data) or data[i + 3] not in _FIRST_SEGMENT:
            continue
        (length,) = struct.unpack_from(">H", data, i + 4)
        end = i + 4 + length
        if length >= 2 and end < len(data) and data[end] == 0xFF:
            found.append(i)
    return found


def findings(root: Path, needles: list[bytes]) -> list[tuple[str, str]]:
    result = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            data = path.read_bytes()
            if jpeg_offsets(data):
                result.append((str(path), "JPEG"))
            for label, marker in (("PNG", PNG), ("PDF", PDF), ("EXIF", EXIF), ("JFIF", JFIF)):
                if marker in data:
                    result.append((str(path), label))
            for needle in needles:
                for form in (needle, needle.decode().encode("utf-16-le")):
                    if form in data:
                        result.append((str(path), f"identifier {needle!r}"))
    return result


def assert_no_plaintext(root: Path, needles: list[bytes]) -> None:
    problems = findings(root, needles)
    assert problems == [], problems
