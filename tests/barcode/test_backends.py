"""The decoder seam: availability, symbology identifiers, formats per backend."""

import pytest

from barcode import backends
from barcode.backends import PyzbarBackend, ZxingBackend
from capture.fake import Scene, Symbol

from .corpus import PATIENT, Case, frame


def test_both_backends_are_available_here():
    assert backends.available("zxing-cpp") and backends.available("pyzbar")
    with pytest.raises(ValueError, match="unknown backend"):
        backends.available("zbar-ng")


def test_pyzbar_keeps_only_what_zbar_reads():
    assert PyzbarBackend(["datamatrix", "qrcode", "code128"]).formats == ("qrcode", "code128")


@pytest.mark.parametrize(("symbology", "sid"), [("datamatrix", "]d2"), ("qrcode", "]Q3"),
                                                ("code128", "]C1")])
def test_zxing_reports_gs1_symbology_identifiers(symbology, sid):
    module = 4 if symbology == "code128" else 6
    luma = frame(Case(f"sid-{symbology}", "640", Scene(symbols=(Symbol(
        symbology, f"(8018){PATIENT}", module_px=module, gs1=True),)), ()))
    (read,) = ZxingBackend([symbology]).decode(luma)
    assert (read.symbology, read.gs1, read.symbology_id) == (symbology, True, sid)
    assert read.text == f"8018{PATIENT}"
    assert PATIENT not in repr(read)


def test_text_that_only_starts_with_gs_is_not_flagged():
    luma = frame(Case("gs-text", "640", Scene(symbols=(Symbol(
        "datamatrix", f"\x1d8018{PATIENT}", module_px=6),)), ()))
    (read,) = ZxingBackend(["datamatrix"]).decode(luma)
    assert (read.gs1, read.symbology_id) == (False, "]d1")
