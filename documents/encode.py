"""A straightened page's image as the file a PDF embeds unchanged (no re-encode by img2pdf).

Black-and-white text pages become single-strip CCITT Group 4 TIFF (a few tens of kilobytes
for an A4 page, and img2pdf copies it without decoding); grey and sketch pages become JPEG.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from .enhance import Mode

GREY_QUALITY = 80
COLOUR_QUALITY = 85


def encode_page(image: np.ndarray, mode: Mode, dpi: float) -> bytes:
    """The page image as the file img2pdf embeds unchanged: Group 4 TIFF for black and
    white, JPEG otherwise; ``dpi`` is recorded in the file."""
    mode = Mode(mode)
    if mode is Mode.TEXT:
        buffer = io.BytesIO()
        bilevel = Image.fromarray(image, mode="L").convert("1", dither=Image.Dither.NONE)
        # One strip: img2pdf embeds a single-strip Group 4 image without decoding it.
        bilevel.save(buffer, format="TIFF", compression="group4", dpi=(dpi, dpi),
                     tiffinfo={278: image.shape[0]})
        return buffer.getvalue()
    quality = COLOUR_QUALITY if mode is Mode.SKETCH else GREY_QUALITY
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise ValueError("page could not be encoded")
    return _with_density(data.tobytes(), dpi)


def _with_density(jpeg: bytes, dpi: float) -> bytes:
    """Set the JFIF header's pixel density (OpenCV writes 0, i.e. "unknown")."""
    if jpeg[2:4] != b"\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        return jpeg
    density = round(dpi).to_bytes(2, "big")
    return jpeg[:13] + b"\x01" + density + density + jpeg[18:]
