"""Documents as a station makes them: page images encoded by the station's own encoder
(CCITT G4 for text pages, JPEG for grey and sketch pages), gathered by img2pdf, sealed as
``kind: document`` with the real envelope code (docs/envelope.md)."""

from __future__ import annotations

import img2pdf
import numpy as np

from documents.encode import encode_page
from documents.enhance import Mode
from sync import envelope
from tests.sync.helpers import METADATA, Station, tiny_jpeg, uuid7

A4_PX = (496, 702)  # A4 at 60 dpi: small pages keep the tests fast


def page_image(n: int, size: tuple[int, int] = A4_PX) -> np.ndarray:
    """A white page with a black bar whose height tells the pages apart."""
    width, height = size
    page = np.full((height, width), 255, np.uint8)
    page[40:40 + 20 * (n + 1), 40:width - 40] = 0
    return page


def sketch(n: int) -> np.ndarray:
    """A colour page (BGR, as the pipeline hands sketches on): the bar drawn in red."""
    page = np.repeat(page_image(n)[:, :, None], 3, axis=2)
    page[page[:, :, 0] == 0] = (30, 30, 200)
    return page


def station_pdf(modes: tuple[Mode, ...] = (Mode.TEXT, Mode.GREY)) -> bytes:
    """A PDF of one page per mode, exactly as the station's pipeline writes it."""
    encoded = [encode_page(page_image(n) if mode is not Mode.SKETCH else sketch(n), mode, 60.0)
               for n, mode in enumerate(modes)]
    return img2pdf.convert(encoded, nodate=True, producer="capture-station documents")


def seal_document(practice_public, station: Station, pdf: bytes, *,
                  document_id: str | None = None, preview: bytes | None = None,
                  **meta) -> tuple[str, bytes]:
    """(document id, sealed bytes) of a document envelope, metadata as a station seals it."""
    document_id = document_id or uuid7()
    metadata = {**METADATA, "station_id": station.station_id, "capture_id": document_id,
                "document_type": "consent-form", "pages": 2, "body_site": None,
                "laterality": None, **meta}
    metadata = {k: v for k, v in metadata.items() if v is not None}
    sealed = envelope.seal("document", metadata,
                           {"pdf": pdf, "preview": tiny_jpeg("first page", (35, 50))
                            if preview is None else preview},
                           recipients=[practice_public], station_key=station.key,
                           item_id=document_id)
    return document_id, sealed
