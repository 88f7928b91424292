"""Page previews and thumbnails: small JPEGs, pages in order, the PDF's own page images."""

import io

import numpy as np
import pytest
from PIL import Image

from documents import (
    DocumentError,
    KeptPage,
    Mode,
    page_count,
    page_preview,
    pages_to_pdf,
    pdf_thumbnail,
)
from tests.documents.corpus import sample_pages


@pytest.fixture(scope="module")
def scanned():
    return list(sample_pages())


def test_a_preview_is_a_small_jpeg_of_the_page(scanned):
    data = page_preview(scanned[0].image)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and max(image.size) == 320
        assert image.size[1] > image.size[0]  # an upright A4 page stays portrait
        assert not image.info.get("exif")
    colour = page_preview(scanned[1].image)
    with Image.open(io.BytesIO(colour)) as image:
        assert image.mode == "RGB"


def test_kept_pages_make_the_same_pdf_as_the_pages(scanned):
    kept = [p.kept() for p in scanned]
    assert all(isinstance(k, KeptPage) for k in kept)
    assert pages_to_pdf(kept) == pages_to_pdf(scanned)
    assert kept[0].size_px == (scanned[0].image.shape[1], scanned[0].image.shape[0])


def test_thumbnails_come_from_each_pdf_page_in_order(scanned):
    pdf = pages_to_pdf([p.kept() for p in scanned])
    assert page_count(pdf) == 2
    for number, source in enumerate(scanned):
        with Image.open(io.BytesIO(pdf_thumbnail(pdf, number))) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) == 320
            assert thumb.mode == ("RGB" if source.mode is Mode.SKETCH else "L")
            # the thumbnail shows that page: compare with the page image, shrunk alike
            expected = Image.fromarray(source.image[..., ::-1] if source.image.ndim == 3
                                       else source.image).resize(thumb.size).convert("L")
            difference = np.abs(np.asarray(thumb.convert("L"), dtype=int)
                                - np.asarray(expected, dtype=int))
            assert difference.mean() < 20
    with pytest.raises(IndexError):
        pdf_thumbnail(pdf, 2)


def test_not_a_pdf_is_a_document_error():
    with pytest.raises(DocumentError):
        page_count(b"%PDF-1.4 not really")
