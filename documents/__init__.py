"""Documents and sketches: photos of pages -> straightened, clean pages -> one PDF.

Pure image work (OpenCV, img2pdf): nothing here knows about sessions, patients, storage or
the network. The station photographs a page, calls :func:`scan_page` while the patient is
still there (a refusal tells staff to reposition the page), gathers the pages and seals
:func:`pages_to_pdf`'s bytes as a ``kind: document`` item.
"""

from .enhance import Mode
from .errors import DocumentError, ImageUnreadableError, PageNotFoundError
from .pdf import pages_to_pdf
from .pipeline import DEFAULT_DPI, KeptPage, Page, scan_page
from .preview import page_count, page_preview, pdf_thumbnail
from .quad import Quad

__all__ = ["DEFAULT_DPI", "DocumentError", "ImageUnreadableError", "KeptPage", "Mode", "Page",
           "PageNotFoundError", "Quad", "page_count", "page_preview", "pages_to_pdf",
           "pdf_thumbnail", "scan_page"]
