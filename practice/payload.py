"""What the practice files must really be: a photo is a JPEG that decodes, a document a PDF.

A station's signature proves who sent an item, not that its bytes are what its kind says: a
bug, a tampered station or a hostile one could seal anything under ``image``. So before
anything is filed (and before ``capture-receiver open`` writes a file) each part is checked:

- a capture's ``image`` and every ``preview``: JPEG (by its content, not its name), 8-bit
  grey or colour, at most :data:`MAX_IMAGE_PIXELS` (a preview :data:`MAX_PREVIEW_PIXELS`)
  pixels read from the header BEFORE any decoding, then decoded to the end of its data (at
  1/8 scale: the entropy-coded data is read in full, so a truncated or damaged file fails,
  and a decompression bomb is refused by its declared size without being expanded);
- a document's ``pdf``: starts with ``%PDF-``, ends with ``%%EOF``, parses without repair
  (qpdf through pikepdf, no recovery), has at least one page and at most :data:`MAX_PAGES`,
  exactly the ``pages`` its metadata states when it states them, and every page image within
  :data:`MAX_PAGE_PIXELS` (declared in the PDF; checked before page thumbnails decode them).

An empty preview is allowed (the station had none; the item then has no thumbnail). Every
refusal is a :class:`ContentRefused` whose message names the part and the rule, never any
content (a document may hold a patient's name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import PracticeError

#: A photo: 100 MP covers every Raspberry Pi camera (the largest, 64 MP) with room to spare.
MAX_IMAGE_PIXELS = 100_000_000
#: A preview is the lores frame of the same request: small by design.
MAX_PREVIEW_PIXELS = 4_000_000
#: A document's page image: an A4 page at 600 dpi is 35 MP (the station's are about 4 MP).
MAX_PAGE_PIXELS = 50_000_000
#: A document's pages (a referral letter with attachments; a stack of charts).
MAX_PAGES = 200
JPEG_MODES = frozenset({"L", "RGB"})
_PDF_TAIL = 1024


class ContentRefused(PracticeError, ValueError):
    """An item's part is not what its kind must carry; the message names the part and rule."""


def check_jpeg(path: Path, part: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Refuse unless ``path`` is a JPEG within ``max_pixels`` that decodes; its (w, h)."""
    try:
        with Image.open(path, formats=("JPEG",)) as image:
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ContentRefused(f"{part}: {width}x{height} pixels is over the limit")
            if image.mode not in JPEG_MODES:
                raise ContentRefused(f"{part}: JPEG colour mode {image.mode} is not accepted")
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except ContentRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ContentRefused(f"{part}: not a JPEG that decodes") from None
    return width, height


def check_pdf(path: Path, part: str, *, pages: object = None,
              max_pixels: int = MAX_PAGE_PIXELS) -> int:
    """Refuse unless ``path`` is a well-formed PDF (with ``pages`` pages, when given);
    returns its page count."""
    import pikepdf  # loaded only where documents are handled (a large library)

    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        handle.seek(max(0, size - _PDF_TAIL))
        tail = handle.read()
    if not head.startswith(b"%PDF-"):
        raise ContentRefused(f"{part}: not a PDF (no %PDF- header)")
    if b"%%EOF" not in tail:
        raise ContentRefused(f"{part}: not a complete PDF (no %%EOF at the end)")
    try:
        with pikepdf.open(path, attempt_recovery=False) as pdf:
            count = len(pdf.pages)
            if count < 1 or count > MAX_PAGES:
                raise ContentRefused(f"{part}: {count} pages is outside 1..{MAX_PAGES}")
            if isinstance(pages, int) and not isinstance(pages, bool) and pages != count:
                raise ContentRefused(f"{part}: {count} pages, the metadata says {pages}")
            for page in pdf.pages:
                _check_page_images(page, part, max_pixels)
    except ContentRefused:
        raise
    # qpdf reports some damage (a wrong /Count in the page tree) as a RuntimeError of its own.
    except (pikepdf.PdfError, RuntimeError, OSError, ValueError, KeyError, TypeError,
            AttributeError):
        raise ContentRefused(f"{part}: not a well-formed PDF") from None
    return count


def _check_page_images(page: Any, part: str, max_pixels: int) -> None:
    xobjects = page.Resources.get("/XObject") if "/Resources" in page else None
    for key in (xobjects.keys() if xobjects is not None else ()):
        xobject = xobjects[key]
        if xobject.get("/Subtype") != "/Image":
            continue
        width, height = int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
        if width <= 0 or height <= 0 or width * height > max_pixels:
            raise ContentRefused(f"{part}: a page image of {width}x{height} pixels is over "
                                 "the limit")


def check_parts(kind: str, metadata: Mapping[str, Any], files: Mapping[str, Path]) -> None:
    """Check every written part of a capture or document (other kinds carry no media)."""
    if kind == "capture" and "image" in files:
        check_jpeg(files["image"], "image")
    if kind == "document" and "pdf" in files:
        check_pdf(files["pdf"], "pdf", pages=metadata.get("pages"))
    preview = files.get("preview")
    if kind in ("capture", "document") and preview is not None and _nonempty(preview):
        check_jpeg(preview, "preview", max_pixels=MAX_PREVIEW_PIXELS)


def _nonempty(path: Path) -> bool:
    try:
        return os.stat(path).st_size > 0
    except FileNotFoundError:
        return False
