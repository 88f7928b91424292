"""The practice files only what an item's kind must carry: a JPEG that decodes, a real PDF.

Each hostile part is refused by the check itself, then end to end: sealed and signed by an
approved station, uploaded over TLS to the real receiver -> 422 ``bad_content`` with a
generic message, nothing filed, nothing left in ``incoming/`` or the inbox, one log line that
names no patient; ``capture-receiver open`` refuses the same file and writes nothing.
"""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from documents.enhance import Mode
from practice.payload import ContentRefused, check_jpeg, check_parts, check_pdf
from sync import envelope
from tests.sync.helpers import METADATA, new_station, seal_capture, tiny_jpeg, uuid7

from .documents import seal_document, station_pdf

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _jpeg(size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    """A valid small JPEG whose frame header claims 65500 x 65500 pixels (4.3 gigapixels)."""
    data = bytearray(_jpeg((16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def _cmyk() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (16, 16)).save(out, "JPEG")
    return out.getvalue()


GOOD_JPEG = _jpeg()
BAD_IMAGES = {
    "not an image": b"\xff\xd8\xff\xe0 these bytes only start like a JPEG" * 20,
    "truncated": GOOD_JPEG[: len(GOOD_JPEG) // 2],
    "png": _png(),
    "bomb": _bomb(),
    "cmyk": _cmyk(),
    "empty": b"",
}
PDF = station_pdf()
BAD_PDFS = {
    "not a pdf": b"%PDX-1.4 hello" + b"\n%%EOF\n",
    "fake pdf": b"%PDF-1.4\nthis is not a PDF at all\n%%EOF\n",
    "truncated": PDF[: len(PDF) // 2],
    "no eof": PDF.replace(b"%%EOF", b"%%EOX"),
    "jpeg": GOOD_JPEG,
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name.replace(" ", "-")
    path.write_bytes(data)
    return path


def test_a_real_jpeg_passes_and_reports_its_size(tmp_path):
    assert check_jpeg(_write(tmp_path, "ok.jpg", GOOD_JPEG), "image") == (320, 240)


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_anything_but_a_decodable_jpeg_is_refused(tmp_path, name):
    path = _write(tmp_path, name, BAD_IMAGES[name])
    started = time.perf_counter()
    with pytest.raises(ContentRefused, match=r"^image: "):
        check_jpeg(path, "image")
    assert time.perf_counter() - started < 2  # the bomb is refused by its header, not decoded


def test_the_bomb_is_refused_by_its_declared_size(tmp_path):
    with pytest.raises(ContentRefused, match=r"over the limit|not a JPEG"):
        check_jpeg(_write(tmp_path, "bomb", _bomb()), "image")
    with pytest.raises(ContentRefused, match="over the limit"):
        check_jpeg(_write(tmp_path, "big", _jpeg((400, 300))), "preview", max_pixels=100_000)


def test_a_station_pdf_passes_with_its_page_count(tmp_path):
    path = _write(tmp_path, "doc.pdf", PDF)
    assert check_pdf(path, "pdf", pages=2) == 2
    assert check_pdf(path, "pdf") == 2
    jpeg_only = _write(tmp_path, "one.pdf", station_pdf((Mode.SKETCH,)))
    assert check_pdf(jpeg_only, "pdf", pages=1) == 1


@pytest.mark.parametrize("name", sorted(BAD_PDFS))
def test_anything_but_a_well_formed_pdf_is_refused(tmp_path, name):
    with pytest.raises(ContentRefused, match=r"^pdf: "):
        check_pdf(_write(tmp_path, name, BAD_PDFS[name]), "pdf")


def test_a_page_count_other_than_the_metadata_is_refused(tmp_path):
    with pytest.raises(ContentRefused, match="2 pages, the metadata says 3"):
        check_pdf(_write(tmp_path, "doc.pdf", PDF), "pdf", pages=3)


def test_parts_are_checked_by_kind_and_an_empty_preview_is_allowed(tmp_path):
    image = _write(tmp_path, "i.jpg", GOOD_JPEG)
    empty = _write(tmp_path, "empty", b"")
    check_parts("capture", {}, {"image": image, "preview": empty})
    with pytest.raises(ContentRefused, match=r"^preview: "):
        check_parts("capture", {}, {"image": image, "preview": _write(tmp_path, "p", _png())})
    with pytest.raises(ContentRefused, match=r"^pdf: "):
        check_parts("document", {"pages": 1}, {"pdf": image})
    check_parts("amendment", {}, {})  # no media: nothing to check


# -- end to end: the receiver and `capture-receiver open` -------------------------------------


def _nothing_filed(receiver):
    data = receiver.data_dir
    assert [p for p in (data / "inbox").rglob("*") if p.is_file()] == []
    assert list((data / "incoming").iterdir()) == []
    assert list((data / "sealed").rglob("*.sealed")) == []
    assert receiver.store.item_count() == 0


def _seal_with(receiver, station, image: bytes, preview: bytes) -> tuple[str, bytes]:
    capture_id = uuid7()
    metadata = {**METADATA, "station_id": station.station_id, "capture_id": capture_id}
    return capture_id, envelope.seal("capture", metadata, {"image": image, "preview": preview},
                                     recipients=[receiver.keys.practice_public],
                                     station_key=station.key, item_id=capture_id)


@pytest.mark.parametrize("name", ["not an image", "truncated", "png", "bomb"])
def test_the_receiver_refuses_a_capture_that_is_not_a_jpeg(receiver, caplog, name):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed = _seal_with(receiver, station, BAD_IMAGES[name], tiny_jpeg())
    with caplog.at_level(logging.INFO, logger="practice.receiver_api"):
        response = receiver.put(station, "capture", capture_id, sealed)
    assert (response.status, response.error) == (422, "bad_content")
    assert b"JPEG" not in response.body  # generic: the reason stays in the log
    _nothing_filed(receiver)
    lines = [r.getMessage() for r in caplog.records if "bad_content" in r.getMessage()
             or "refused capture" in r.getMessage()]
    assert any("image: " in line for line in lines)
    assert all(METADATA["patient_id"] not in r.getMessage() for r in caplog.records)


def test_the_receiver_refuses_a_bad_preview_and_a_fake_pdf(receiver):
    station = new_station()
    receiver.enrol_directly(station)
    capture_id, sealed = _seal_with(receiver, station, GOOD_JPEG, b"preview, not a JPEG")
    assert receiver.put(station, "capture", capture_id, sealed).error == "bad_content"
    for pdf, pages in ((BAD_PDFS["fake pdf"], 1), (PDF, 5)):
        document_id, sealed = seal_document(receiver.keys.practice_public, station, pdf,
                                            pages=pages)
        response = receiver.put(station, "document", document_id, sealed)
        assert (response.status, response.error) == (422, "bad_content")
    _nothing_filed(receiver)
    # and the real thing is filed
    capture_id, sealed, _ = seal_capture(receiver.keys, station, image=GOOD_JPEG)
    assert receiver.put(station, "capture", capture_id, sealed).status == 201


def test_open_applies_the_same_check_and_writes_nothing(receiver, tmp_path):
    station = new_station("exam-9")
    receiver.enrol_directly(station)
    _, sealed = _seal_with(receiver, station, BAD_IMAGES["truncated"], tiny_jpeg())
    path = tmp_path / "item.sealed"
    path.write_bytes(sealed)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "practice.cli", "open", "--data-dir",
                           str(receiver.data_dir), str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode != 0
    assert "image: not a JPEG that decodes; nothing written" in done.stderr
    assert not out.exists() or list(out.iterdir()) == []
