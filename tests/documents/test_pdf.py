"""The PDF: pages of the paper's real size, page images embedded as encoded, a printed QR
code still readable from the PDF's page."""

import io
from datetime import UTC, datetime

import pikepdf
import pytest
import zxingcpp
from pikepdf import PdfImage
from PIL import Image

from documents import Mode, pages_to_pdf, scan_page
from tests.documents.corpus import FOUND, still

A4_POINTS = (210 * 72 / 25.4, 297 * 72 / 25.4)


@pytest.fixture(scope="module")
def pages():
    by_name = {c.name: c for c in FOUND}
    return [scan_page(still(by_name["tilt-35-diagonal"])),
            scan_page(still(by_name["upside-down-dim"])),
            scan_page(still(by_name["sideways-right"]), Mode.SKETCH)]


def _images(pdf: bytes) -> tuple[pikepdf.Pdf, list]:
    """The open document (its objects die with it) and (page, image, raw stream) per page."""
    document = pikepdf.open(io.BytesIO(pdf))
    found = []
    for page in document.pages:
        xobjects = page.Resources.XObject
        (raw,) = [xobjects[key] for key in xobjects.keys()]
        found.append((page, PdfImage(raw), raw))
    return document, found


def test_pages_are_a4_in_order_and_embedded_without_re_encoding(pages):
    pdf = pages_to_pdf(pages)
    _document, seen = _images(pdf)
    assert len(seen) == 3
    for (page, image, raw), source in zip(seen, pages, strict=True):
        box = [float(v) for v in page.mediabox]
        assert box[2:] == pytest.approx(A4_POINTS, abs=0.01)
        assert (image.width, image.height) == (1654, 2339)
        if source.mode is Mode.TEXT:
            assert image.filters == ["/CCITTFaxDecode"]
            assert raw.BitsPerComponent == 1
            assert raw.read_raw_bytes() == _g4_strip(source.encoded)
        else:
            assert image.filters == ["/DCTDecode"]
            assert raw.read_raw_bytes() == source.encoded  # the JPEG itself, untouched


def _g4_strip(tiff: bytes) -> bytes:
    """The Group 4 data of a single-strip TIFF, as it was encoded."""
    with Image.open(io.BytesIO(tiff)) as image:
        assert image.info["compression"] == "group4"
        (offset,), (length,) = image.tag_v2[273], image.tag_v2[279]
    return tiff[offset:offset + length]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_printed_qr_code_decodes_from_the_pdf_page(pages, index):
    _document, seen = _images(pages_to_pdf(pages))
    _, image, _ = seen[index]
    results = zxingcpp.read_barcodes(image.as_pil_image().convert("L"))
    assert [r.text for r in results] == ["DOC-0042"]
    # Upright on the page: zxing-cpp reports the symbol's rotation as it finds it.
    assert abs(results[0].orientation) < 5


def test_a_text_page_is_small(pages):
    assert len(pages_to_pdf(pages[:1])) < 400 * 1024


def test_same_pages_same_bytes_and_the_date_only_when_given(pages):
    assert pages_to_pdf(pages[:1]) == pages_to_pdf(pages[:1])
    plain = pikepdf.open(io.BytesIO(pages_to_pdf(pages[:1])))
    assert "/CreationDate" not in plain.docinfo
    when = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    dated = pikepdf.open(io.BytesIO(pages_to_pdf(pages[:1], created=when)))
    assert str(dated.docinfo["/CreationDate"]).startswith("D:20250304103")


def test_an_empty_document_is_refused():
    with pytest.raises(ValueError, match="at least one page"):
        pages_to_pdf([])
