"""Pages -> one PDF, with img2pdf: each page's image is embedded as it was encoded (no second
lossy step), and each PDF page has the paper's real size.

Black-and-white pages are stored as CCITT Group 4 (what fax and office scanners use: a text
page in tens of kilobytes, and every PDF reader shows it), grey pages as greyscale JPEG and
sketches as colour JPEG.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import img2pdf

POINTS_PER_MM = 72 / 25.4
PRODUCER = "capture-station documents"


class PdfPage(Protocol):
    """What a PDF page is made from: a :class:`~documents.pipeline.Page`, or the
    :class:`~documents.pipeline.KeptPage` the station holds while a document is open."""

    @property
    def encoded(self) -> bytes: ...
    @property
    def size_px(self) -> tuple[int, int]: ...
    @property
    def size_mm(self) -> tuple[float, float]: ...


def pages_to_pdf(pages: Sequence[PdfPage], *, created: datetime | None = None) -> bytes:
    """One PDF holding ``pages`` in order, each on a PDF page of its paper size.

    ``created`` becomes the PDF's creation date (the session's capture time); without it the
    PDF carries no date, so the same pages always give the same bytes.
    """
    if not pages:
        raise ValueError("a document needs at least one page")
    sizes = {p.size_px: p.size_mm for p in pages}

    def layout(width_px: int, height_px: int, _dpi: object) -> tuple[float, ...]:
        w_mm, h_mm = sizes[(width_px, height_px)]
        w, h = w_mm * POINTS_PER_MM, h_mm * POINTS_PER_MM
        return w, h, w, h

    dates = {"creationdate": created, "moddate": created} if created else {"nodate": True}
    return img2pdf.convert([p.encoded for p in pages], layout_fun=layout,
                           producer=PRODUCER, **dates)
