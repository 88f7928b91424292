"""Page thumbnails of a filed document, rendered once when it is filed.

The station's PDFs come from img2pdf: every page is one image, a JPEG (DCTDecode) or a CCITT
Group 4 bitmap, drawn over the whole page. So a page's thumbnail is that image, scaled down;
no PDF renderer is needed. A JPEG page is decoded at a reduced scale (libjpeg's DCT scaling),
a G4 page through pikepdf (which wraps the bitmap as a TIFF for Pillow). A page with no image
of its own (a PDF from elsewhere) gets no thumbnail; the page is still in the PDF.

The PDF was checked (:mod:`practice.payload`) before it got here, pixel limits included.
Thumbnails are ``<stem>.page-<n>.thumb.jpg`` beside the PDF, written durably; a retraction
moves them with the document (:mod:`practice.filing`).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from PIL import Image

from sync.durable import write_durably

from .payload import MAX_PAGE_PIXELS

log = logging.getLogger(__name__)
#: Longest side of a page thumbnail, in pixels (a page list shows them side by side).
THUMB_PX = 320
QUALITY = 80


def page_thumb_name(stem: str, page: int) -> str:
    """The file name of page ``page``'s thumbnail (pages count from 1)."""
    return f"{stem}.page-{page}.thumb.jpg"


def _page_image(page: Any) -> Image.Image | None:
    """The largest image drawn on the page, decoded at about thumbnail size (None: none)."""
    from pikepdf import PdfImage

    resources = page.get("/Resources")
    xobjects = resources.get("/XObject") if resources is not None else None
    images = [xobjects[k] for k in (xobjects.keys() if xobjects is not None else ())
              if xobjects[k].get("/Subtype") == "/Image"]
    if not images:
        return None
    raw = max(images, key=lambda x: int(x.get("/Width", 0)) * int(x.get("/Height", 0)))
    image = PdfImage(raw)
    if image.filters == ["/DCTDecode"]:
        picture = Image.open(io.BytesIO(raw.read_raw_bytes()), formats=("JPEG",))
        if picture.size[0] * picture.size[1] > MAX_PAGE_PIXELS:  # not what the PDF declared
            picture.close()
            return None
        picture.draft("RGB" if picture.mode != "L" else "L", (THUMB_PX, THUMB_PX))
        return picture
    return image.as_pil_image()


def render_page_thumbs(pdf_path: Path, folder: Path, stem: str) -> list[str | None]:
    """Write a thumbnail per page of ``pdf_path`` into ``folder``; their names in page order
    (None for a page without an image of its own, or one that would not decode)."""
    import pikepdf

    names: list[str | None] = []
    try:
        with pikepdf.open(pdf_path) as pdf:
            _render_pages(pdf, folder, stem, names)
    # Checked before filing, so this is damage qpdf tolerated there: never stop the filing
    # (qpdf reports some damage as a RuntimeError of its own).
    except (pikepdf.PdfError, RuntimeError, ValueError):
        log.warning("a filed document could not be read for page thumbnails")
    return names


def _render_pages(pdf: Any, folder: Path, stem: str, names: list[str | None]) -> None:
    """Append each page's thumbnail name (or None) to ``names`` as it is written."""
    import pikepdf

    for number, page in enumerate(pdf.pages, start=1):
        try:
            picture = _page_image(page.obj)
            if picture is None:
                names.append(None)
                continue
            with picture:
                small = picture.convert("L" if picture.mode in ("1", "L") else "RGB")
                small.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                small.save(out, "JPEG", quality=QUALITY)
        except (OSError, ValueError, RuntimeError, pikepdf.PdfError, NotImplementedError):
            log.warning("page %d of a filed document has no thumbnail", number)
            names.append(None)
            continue
        name = page_thumb_name(stem, number)
        write_durably(folder / name, out.getvalue(), 0o640, sync_dir=False)
        names.append(name)
