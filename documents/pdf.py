"""Pages -> one PDF, with img2pdf: each page's image is embedded as it was encoded (no second
lossy step), and each PDF page has the paper's real size.

Black-and-white pages are stored as CCITT Group 4 (what fax and office scanners use: a text
page in tens of kilobytes, and every PDF reader shows it), grey pages as greyscale JPEG and
sketches as colour JPEG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import cv2
import img2pdf
import numpy as np
from PIL import Image

from .enhance import Mode

if TYPE_CHECKING:
    from .pipeline import Page

GREY_QUALITY = 80
COLOUR_QUALITY = 85
POINTS_PER_MM = 72 / 25.4
PRODUCER = "capture-station documents"


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


def pages_to_pdf(pages: Sequence[Page], *, created: datetime | None = None) -> bytes:
    """One PDF holding ``pages`` in order, each on a PDF page of its paper size.

    ``created`` becomes the PDF's creation date (the session's capture time); without it the
    PDF carries no date, so the same pages always give the same bytes.
    """
    if not pages:
        raise ValueError("a document needs at least one page")
    sizes = {(p.image.shape[1], p.image.shape[0]): p.size_mm for p in pages}

    def layout(width_px: int, height_px: int, _dpi: object) -> tuple[float, ...]:
        w_mm, h_mm = sizes[(width_px, height_px)]
        w, h = w_mm * POINTS_PER_MM, h_mm * POINTS_PER_MM
        return w, h, w, h

    dates = {"creationdate": created, "moddate": created} if created else {"nodate": True}
    return img2pdf.convert([p.encoded for p in pages], layout_fun=layout,
                           producer=PRODUCER, **dates)


def _with_density(jpeg: bytes, dpi: float) -> bytes:
    """Set the JFIF header's pixel density (OpenCV writes 0, i.e. "unknown")."""
    if jpeg[2:4] != b"\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        return jpeg
    density = round(dpi).to_bytes(2, "big")
    return jpeg[:13] + b"\x01" + density + density + jpeg[18:]
