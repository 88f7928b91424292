"""The printed command-card sheet, read back from the PNG and from the PDF's page images."""

import io
import json
import re

import pytest
from PIL import Image

from appliance.cli import main
from barcode.commands import all_commands
from barcode.reader import CommandRead, build_reader
from barcode.sheet import SheetError, render_card, write_sheet

SITES = ["head", "left forearm", "sacrum", "heel"]


def station_config(tmp_path, extra=""):
    path = tmp_path / "station.toml"
    path.write_text('[workflow]\nbody_sites = ["head", "left forearm", "sacrum", "heel"]\n'
                    + extra)
    return path


def pdf_page_images(data: bytes) -> list[Image.Image]:
    """The raster page images of a Pillow-written PDF (JPEG streams), decoded."""
    images = []
    for match in re.finditer(rb"/Filter /DCTDecode.*?stream\r?\n", data, re.S):
        start = match.end()
        end = data.index(b"\xff\xd9", start) + 2
        images.append(Image.open(io.BytesIO(data[start:end])).convert("L"))
    return images


def read_commands(reader, images):
    found = []
    for image in images:
        for result in reader.read_frame(image):
            assert result.role == "command", result
            found.append(result.command)
    return found


def test_cards_png_is_read_back_completely(tmp_path, capsys):
    out = tmp_path / "cards.png"
    assert main(["cards", "--config", str(station_config(tmp_path)), "--out", str(out)]) == 0
    assert "wrote 19 command cards on 1 page(s)" in capsys.readouterr().out
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    found = read_commands(reader, [Image.open(out)])
    assert sorted(found, key=str) == sorted(all_commands(SITES), key=str)
    # zbar reads the QR cards too.
    zbar = build_reader({"backends": ["pyzbar"]}, SITES)
    assert len(read_commands(zbar, [Image.open(out)])) == 19


def test_cards_pdf_pages_are_read_back_completely(tmp_path, capsys):
    out = tmp_path / "cards.pdf"
    cfg = tmp_path / "default.toml"
    cfg.write_text("")
    assert main(["cards", "--config", str(cfg), "--out", str(out), "--paper", "letter"]) == 0
    data = out.read_bytes()
    pages = pdf_page_images(data)
    assert data.startswith(b"%PDF-") and f"/Count {len(pages)}".encode() in data
    assert len(pages) == 3  # 12 cards to a page
    assert pages[0].size == (2550, 3300)  # Letter at 300 dpi
    from appliance.config import DEFAULT_BODY_SITES
    reader = build_reader({"backends": ["zxing-cpp"]}, DEFAULT_BODY_SITES)
    found = read_commands(reader, pages)
    assert sorted(found, key=str) == sorted(all_commands(DEFAULT_BODY_SITES), key=str)
    assert len(found) == 4 + 4 + len(DEFAULT_BODY_SITES) + 6 + 1


def test_datamatrix_cards(tmp_path):
    out = tmp_path / "cards.png"
    assert main(["cards", "--config", str(station_config(tmp_path)), "--out", str(out),
                 "--symbology", "datamatrix"]) == 0
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    assert len(read_commands(reader, [Image.open(out)])) == 19


def test_a_single_card_held_up_to_the_preview_camera_is_a_command():
    """A cut-out card about a fifth of the 640x480 preview, slightly turned, as the camera sees
    it: scaled down with antialiasing, on a skin-toned background."""
    command = all_commands(SITES)[5]
    card = render_card(command).resize((150, 150), Image.LANCZOS).rotate(
        12, expand=True, fillcolor=200)
    frame = Image.new("L", (640, 480), 170)
    frame.paste(card, (300, 200))
    reader = build_reader({"backends": ["zxing-cpp"], "consecutive_reads": 2}, SITES)
    assert reader.feed(frame) == []
    assert reader.feed(frame) == [CommandRead(command)]


def test_bad_output_names_fail_clearly_and_leave_nothing(tmp_path, capsys):
    cfg = str(station_config(tmp_path))
    assert main(["cards", "--config", cfg, "--out", str(tmp_path / "cards.svg")]) == 1
    assert "must end in .pdf or .png" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "cards.pdf"
    assert main(["cards", "--config", cfg, "--out", str(missing)]) == 1
    assert f"cannot write {missing}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["station.toml"]


def test_warns_when_the_station_would_not_read_its_cards(tmp_path, capsys):
    cfg = station_config(tmp_path, '[barcode]\nformats = ["code128", "datamatrix"]\n')
    assert main(["cards", "--config", str(cfg), "--out", str(tmp_path / "c.png")]) == 0
    assert "does not include 'qrcode'" in capsys.readouterr().err


@pytest.mark.parametrize("length", [1500, 5000])
def test_overlong_body_site_is_a_clear_error(tmp_path, capsys, length):
    cfg = tmp_path / "long.toml"
    cfg.write_text(f'[workflow]\nbody_sites = ["{"x" * length}"]\n')
    assert main(["cards", "--config", str(cfg), "--out", str(tmp_path / "c.png")]) == 1
    assert "card payload is too long" in capsys.readouterr().err


def test_empty_sheet_is_refused(tmp_path):
    with pytest.raises(SheetError, match="no command cards"):
        write_sheet(tmp_path / "x.png", [])


def test_scan_command_reads_the_sheet(tmp_path, capsys):
    out = tmp_path / "cards.png"
    cfg = str(station_config(tmp_path))
    main(["cards", "--config", cfg, "--out", str(out)])
    capsys.readouterr()
    assert main(["scan", "--config", cfg, str(out)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert {r["command"] for r in line["results"]} == {c.name for c in all_commands(SITES)}
