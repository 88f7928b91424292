"""The open document's pages, held in the station's memory until they are sealed as one PDF.

The workflow decides (:class:`~appliance.workflow.TakePage`, ``DropPage``, ``CloseDocument``);
this desk does the image work on the station's capture thread: each still goes through the
page pipeline (:func:`documents.scan_page`: find the page, straighten it, clean it for its
type), only the encoded page is kept (the photo of the desk around it is dropped at once),
and closing gathers the pages into one PDF (img2pdf, no re-encode) that the vault seals as
``kind: document``.

Nothing of a document is written in plaintext: the stills, the pages and the PDF exist only
in this process's memory, and the sealed file is the first thing on disk. The price is that a
document still open when the station crashes or loses power is lost (its pages were never
sealed); a stop through systemd seals it first (:class:`~appliance.workflow.Stopping`). The
memory is bounded: at most ``max_pages`` encoded pages per document (a black-and-white page is
tens of kilobytes, a colour sketch a few hundred) and one document open at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from documents import (
    DocumentError,
    KeptPage,
    Mode,
    PageNotFoundError,
    page_preview,
    pages_to_pdf,
    scan_page,
)

from .workflow import CloseDocument, DocumentFinished, PageFinished, Refusal, TakePage

log = logging.getLogger("capture_station.documents")

#: How each document type's pages are kept: text forms as clean black and white (small, crisp
#: handwriting and signatures), sketches in colour, anything else in grey (stamps, pencil).
MODES = {"consent-form": Mode.TEXT, "referral": Mode.TEXT, "sketch": Mode.SKETCH,
         "other": Mode.GREY}


class DocumentStore(Protocol):
    def store_document(self, pdf: bytes, metadata: dict[str, Any], *,
                       preview: bytes) -> Any:
        """Seal and queue a document durably; returns its id (or a record with
        ``capture_id``)."""


@dataclass
class _OpenDocument:
    pages: list[KeptPage] = field(default_factory=list)
    preview: bytes = b""  # of page 1: the sealed document's preview part
    first_taken_at: str = ""


class DocumentDesk:
    """Pages of open documents by the workflow's document id (one thread: the capture loop)."""

    def __init__(self, *, max_pages: int = 20) -> None:
        self.max_pages = max_pages
        self._open: dict[str, _OpenDocument] = {}

    def page_count(self, document: str) -> int:
        entry = self._open.get(document)
        return 0 if entry is None else len(entry.pages)

    def add_page(self, job: TakePage, still: bytes, *, taken_at: str) -> PageFinished:
        """Find the page in ``still`` and keep it; a photo without a whole page is refused
        (``page_refused``) and nothing of it is kept."""
        entry = self._open.setdefault(job.document, _OpenDocument())
        if len(entry.pages) >= self.max_pages:
            return PageFinished(job.request_id, Refusal.PAGE_REFUSED, "too_many_pages")
        try:
            page = scan_page(still, MODES.get(job.document_type, Mode.GREY))
        except PageNotFoundError:
            return PageFinished(job.request_id, Refusal.PAGE_REFUSED, "no_page")
        except DocumentError:
            return PageFinished(job.request_id, Refusal.PAGE_REFUSED, "unreadable")
        if not entry.pages:
            entry.preview = page_preview(page.image)
            entry.first_taken_at = taken_at
        entry.pages.append(page.kept())
        return PageFinished(job.request_id)

    def drop_page(self, document: str) -> None:
        """A retake: forget the last page kept (page 1's preview goes with it)."""
        entry = self._open.get(document)
        if entry is None or not entry.pages:
            return
        entry.pages.pop()
        if not entry.pages:
            del self._open[document]

    def close(self, job: CloseDocument, store: DocumentStore,
              stamp: dict[str, Any]) -> DocumentFinished:
        """Gather the pages into one PDF and seal it with the job's metadata, ``stamp`` (the
        station's facts) and the time page 1 was taken. The pages are forgotten whatever
        happens: a failure (raised) costs this document, never a later one."""
        entry = self._open.pop(job.document, None)
        if entry is None or not entry.pages:
            log.error("document to close holds no pages")
            return DocumentFinished(job.request_id, error=Refusal.STORAGE_FAULT)
        if len(entry.pages) != job.metadata.get("pages"):
            log.error("document page count differs from the workflow's; sealing what is kept")
        metadata = {**job.metadata, **stamp, "pages": len(entry.pages)}
        metadata["captured_at"] = entry.first_taken_at or stamp.get("captured_at")
        created = datetime.fromisoformat(metadata["captured_at"]) \
            if metadata.get("captured_at") else None
        pdf = pages_to_pdf(entry.pages, created=created)
        result = store.store_document(pdf, metadata, preview=entry.preview)
        return DocumentFinished(job.request_id, str(getattr(result, "capture_id", result)))

    def forget_all(self) -> int:
        """Drop every open document's pages (the station stops); how many documents."""
        count = len(self._open)
        self._open.clear()
        return count
