"""Small pictures of pages: the sealed preview of a document and its page thumbnails.

The preview is made from the straightened page image the station already holds (page 1 goes
into the sealed document's ``preview`` part); thumbnails of every page are made from the PDF
itself (the station's review page opens the sealed PDF with its review key), by decoding the
page image each PDF page embeds, so nothing but the sealed file is needed to show them.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pikepdf
from pikepdf import PdfImage

from .errors import DocumentError

PREVIEW_MAX_SIDE = 320
PREVIEW_QUALITY = 70


def page_preview(image: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """A JPEG of ``image`` (a page: grey or BGR) no larger than ``max_side``, no metadata."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise DocumentError("page preview could not be encoded")
    return data.tobytes()


def page_count(pdf: bytes) -> int:
    """How many pages ``pdf`` has; :class:`DocumentError` when it is not a readable PDF."""
    with _open(pdf) as document:
        return len(document.pages)


def pdf_thumbnail(pdf: bytes, page: int, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """A JPEG thumbnail of page ``page`` (0-based) of a PDF made by
    :func:`~documents.pdf.pages_to_pdf` (one image per page); IndexError past the last."""
    with _open(pdf) as document:
        if not 0 <= page < len(document.pages):
            raise IndexError("no such page")
        xobjects = document.pages[page].Resources.XObject
        images = [xobjects[key] for key in xobjects.keys()]
        if len(images) != 1:
            raise DocumentError("not a page of a scanned document")
        picture = PdfImage(images[0]).as_pil_image()
    if picture.mode not in ("L", "RGB"):  # black and white ("1") shrinks well only as grey
        picture = picture.convert("L" if picture.mode == "1" else "RGB")
    picture.thumbnail((max_side, max_side))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=PREVIEW_QUALITY)
    return out.getvalue()


def _open(pdf: bytes) -> pikepdf.Pdf:
    try:
        return pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PdfError:
        raise DocumentError("not a readable PDF") from None


__all__ = ["page_count", "page_preview", "pdf_thumbnail"]
