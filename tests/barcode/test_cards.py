"""The printed command-card sheet: every card read back from the PNG and from the PDF's barcode
images, the PDF's labels as real text, and only the cards the station's config allows."""

import json

import pytest
from PIL import Image
from pypdf import PdfReader

from appliance.cli import main
from appliance.signals import SIGNALS
from barcode.commands import Command, all_commands
from barcode.reader import CommandRead, build_reader
from barcode.sheet import SheetError, card_label, render_card, render_sheet

SITES = ["head", "left forearm", "sacrum", "heel"]
OVERRIDE = Command("consent", "emergency-override")
#: What a station with SITES and the default workflow accepts: no emergency override.
ACCEPTED = [c for c in all_commands(SITES) if c != OVERRIDE]


def station_config(tmp_path, extra=""):
    path = tmp_path / "station.toml"
    path.write_text('[workflow]\nbody_sites = ["head", "left forearm", "sacrum", "heel"]\n'
                    + extra)
    return path


def read_commands(reader, images):
    found = []
    for image in images:
        for result in reader.read_frame(image):
            assert result.role == "command", result
            found.append(result.command)
    return found


def pdf_barcodes(path) -> list[Image.Image]:
    """Every image in the PDF: the barcodes, one per card."""
    return [image.image for page in PdfReader(path).pages for image in page.images]


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def by_name(commands):
    return sorted(commands, key=str)


def test_cards_png_is_read_back_completely(tmp_path, capsys):
    out = tmp_path / "cards.png"
    cfg = station_config(tmp_path)
    assert main(["cards", "--config", str(cfg), "--out", str(out)]) == 0
    output = capsys.readouterr().out
    assert f"config: {cfg}" in output
    assert "wrote 18 command cards and a legend card on 1 page(s)" in output
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    assert by_name(read_commands(reader, [Image.open(out)])) == by_name(ACCEPTED)
    # zbar reads the QR cards too.
    zbar = build_reader({"backends": ["pyzbar"]}, SITES)
    assert len(read_commands(zbar, [Image.open(out)])) == len(ACCEPTED)


def test_cards_pdf_barcodes_are_read_back_and_its_labels_are_text(tmp_path, capsys):
    out = tmp_path / "cards.pdf"
    cfg = tmp_path / "default.toml"
    cfg.write_text("")
    assert main(["cards", "--config", str(cfg), "--out", str(out), "--paper", "letter"]) == 0
    output = capsys.readouterr().out
    assert f"config: {cfg}" in output
    reader_pdf = PdfReader(out)
    pages = len(reader_pdf.pages)
    assert f"on {pages} page(s)" in output
    assert [float(v) for v in reader_pdf.pages[0].mediabox] == pytest.approx(
        [0, 0, 612, 792], abs=0.1)  # Letter
    from appliance.config import DEFAULT_BODY_SITES
    expected = [c for c in all_commands(DEFAULT_BODY_SITES) if c != OVERRIDE]
    images = pdf_barcodes(out)
    assert len(images) == len(expected)  # the barcodes are the only images: text is text
    reader = build_reader({"backends": ["zxing-cpp"]}, DEFAULT_BODY_SITES)
    found = read_commands(reader, images)
    assert by_name(found) == by_name(expected)
    text = pdf_text(out)
    for command in expected:
        for word in card_label(command).split():
            assert word in text, command
        assert command.payload in text
    assert "PATIENT'S LEFT" in text and "CONSENT: TEACHING" in text
    assert "EMERGENCY" not in text


def test_the_legend_card_says_what_each_light_and_beep_means(tmp_path):
    out = tmp_path / "cards.pdf"
    cfg = station_config(tmp_path, "require_operator = true\n")
    assert main(["cards", "--config", str(cfg), "--out", str(out)]) == 0
    text = " ".join(pdf_text(out).split())  # wrapped lines joined again
    assert "WHAT THE LIGHT SAYS" in text
    for spec in SIGNALS.values():
        if spec.family == "fix":
            assert f"REFUSED: {spec.action}" in text
    assert "ACCEPTED" in text and "short chirps" in text and "long beep" in text
    assert SIGNALS["idle"].meaning in text
    # A station that never asks for a badge leaves that line out.
    plain = tmp_path / "plain.pdf"
    cfg = station_config(tmp_path, "require_operator = false\n")
    assert main(["cards", "--config", str(cfg), "--out", str(plain)]) == 0
    plain_text = " ".join(pdf_text(plain).split())
    assert SIGNALS["no_operator"].action not in plain_text
    assert SIGNALS["no_consent"].action in plain_text
    # Without the legend, only the command cards.
    bare = tmp_path / "bare.pdf"
    assert main(["cards", "--config", str(station_config(tmp_path)), "--out", str(bare),
                 "--no-legend"]) == 0
    assert "WHAT THE LIGHT SAYS" not in pdf_text(bare)


def test_only_the_cards_the_config_allows_are_printed(tmp_path, capsys):
    out = tmp_path / "cards.pdf"
    cfg = station_config(tmp_path, "emergency_override = true\n")
    assert main(["cards", "--config", str(cfg), "--out", str(out)]) == 0
    assert "left out" not in capsys.readouterr().out
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    found = read_commands(reader, pdf_barcodes(out))
    assert OVERRIDE in found
    assert by_name(found) == by_name(all_commands(SITES))
    assert "EMERGENCY OVERRIDE" in pdf_text(out)
    assert "KNEE" not in pdf_text(out)  # a default site this station does not offer
    assert "LEFT FOREARM" in pdf_text(out)


def test_the_station_config_is_found_as_every_command_finds_it(tmp_path, capsys, monkeypatch):
    cfg = station_config(tmp_path)
    monkeypatch.setenv("CAPTURE_STATION_CONFIG", str(cfg))
    out = tmp_path / "cards.png"
    assert main(["cards", "--out", str(out)]) == 0
    output = capsys.readouterr().out
    assert f"config: {cfg}" in output
    assert "emergency-override card left out" in output
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    assert by_name(read_commands(reader, [Image.open(out)])) == by_name(ACCEPTED)


def test_datamatrix_cards(tmp_path):
    out = tmp_path / "cards.png"
    assert main(["cards", "--config", str(station_config(tmp_path)), "--out", str(out),
                 "--symbology", "datamatrix"]) == 0
    reader = build_reader({"backends": ["zxing-cpp"]}, SITES)
    assert len(read_commands(reader, [Image.open(out)])) == len(ACCEPTED)


def test_each_category_has_its_own_colour_band():
    colours = {}
    for command in (Command("consent", "teaching"), Command("site", "head"),
                    Command("laterality", "left"), Command("document", "referral"),
                    Command("session", "end")):
        card = render_card(command, dpi=100)
        colours[command.kind] = card.getpixel((card.width // 2, 20))  # in the band
    assert len(set(colours.values())) == 5, colours
    assert all(max(c) - min(c) > 60 for c in colours.values())  # coloured, not grey


def test_a_single_card_held_up_to_the_preview_camera_is_a_command():
    """A cut-out card about a fifth of the 640x480 preview, slightly turned, as the camera sees
    it: scaled down with antialiasing, on a skin-toned background."""
    command = all_commands(SITES)[5]
    card = render_card(command).convert("L")
    card = card.resize((190, round(190 * card.height / card.width)), Image.LANCZOS).rotate(
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


def test_empty_sheet_is_refused():
    with pytest.raises(SheetError, match="no command cards"):
        render_sheet(".png", [])


def test_scan_command_reads_the_sheet(tmp_path, capsys):
    out = tmp_path / "cards.png"
    cfg = str(station_config(tmp_path))
    main(["cards", "--config", cfg, "--out", str(out)])
    capsys.readouterr()
    assert main(["scan", "--config", cfg, str(out)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert {r["command"] for r in line["results"]} == {c.name for c in ACCEPTED}


@pytest.mark.parametrize("unicode_font", [True, False])
def test_body_sites_beyond_latin1_print_with_or_without_a_unicode_font(
        tmp_path, monkeypatch, unicode_font):
    """DejaVu (bootstrap installs it) prints any site; without it the PDF core font prints
    what Latin-1 can hold and the barcode still carries the exact site."""
    if not unicode_font:
        monkeypatch.setattr("barcode.drawing.FONT_DIRS", ())
    sites = ["Fuß", "локоть"]
    data, pages = render_sheet(".pdf", [Command("site", s) for s in sites])
    out = tmp_path / "sites.pdf"
    out.write_bytes(data)
    assert pages == 1
    text = pdf_text(out)
    assert "FUSS" in text
    assert ("ЛОКОТЬ" in text) is unicode_font
    reader = build_reader({"backends": ["zxing-cpp"]}, sites)
    assert by_name(read_commands(reader, pdf_barcodes(out))) == by_name(
        [Command("site", s) for s in sites])
