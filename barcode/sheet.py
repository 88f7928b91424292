"""The printable command-card sheet: one labelled 2-D barcode per command, ready to cut out.

Cards are drawn at print resolution (300 dpi) with Pillow, so the sheet needs no extra
dependency: a PDF is paginated on A4 or Letter (Pillow's PDF writer, one raster image per
page), a PNG holds every card on one tall sheet. The barcodes are written by zxing-cpp, the
same library that reads them, and each card shows its meaning in words and its payload in
small print, so staff can check a card before trusting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .commands import Command
from .errors import BarcodeError

CARD_SYMBOLOGIES = {"qrcode": "QRCode", "datamatrix": "DataMatrix"}
PAPER_INCHES = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}
DPI = 300
CARD_INCHES = 2.4  # square cards: big enough to hold in front of the camera, small to carry
MARGIN_INCHES = 0.4
QUIET_MODULES = 4
#: Smallest module printed (6 px at 300 dpi = 0.5 mm): a card held at arm's length must still
#: give the 640x480 preview about 2 pixels per module.
MIN_MODULE_PX = 6


class SheetError(BarcodeError, ValueError):
    """The sheet cannot be produced as asked (unknown format, payload too long...)."""


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def render_barcode(payload: str, symbology: str, box_px: int) -> Image.Image:
    """``payload`` as a black-on-white symbol no larger than ``box_px``, whole pixels per
    module, with its quiet zone."""
    import zxingcpp

    if symbology not in CARD_SYMBOLOGIES:
        raise SheetError(f"cards use one of {sorted(CARD_SYMBOLOGIES)}, not {symbology!r}")
    fmt = getattr(zxingcpp.BarcodeFormat, CARD_SYMBOLOGIES[symbology])
    try:
        symbol = zxingcpp.create_barcode(payload, fmt)
    except ValueError:  # zxing-cpp's writer: input too long for any symbol size
        raise SheetError("card payload is too long for a barcode") from None
    modules = np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=1, add_quiet_zones=False))
    height, width = modules.shape
    scale = box_px // (max(width, height) + 2 * QUIET_MODULES)
    if scale < MIN_MODULE_PX:
        raise SheetError("card payload is too long to print legibly on a card")
    image = Image.fromarray(modules, mode="L").resize((width * scale, height * scale),
                                                      Image.NEAREST)
    framed = Image.new("L", (image.width + 2 * QUIET_MODULES * scale,
                             image.height + 2 * QUIET_MODULES * scale), 255)
    framed.paste(image, (QUIET_MODULES * scale, QUIET_MODULES * scale))
    return framed


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, size: int, width: int):
    """The largest font up to ``size`` px at which ``text`` fits in ``width`` px."""
    while True:
        font = _font(size)
        if size <= 8 or draw.textlength(text, font=font) <= width:
            return font
        size = int(size * 0.9)


def render_card(command: Command, symbology: str = "qrcode", dpi: int = DPI) -> Image.Image:
    """One square card: kind on top, barcode in the middle, label and payload below."""
    size = int(CARD_INCHES * dpi)
    card = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(card)
    # A light cut line around the card.
    draw.rectangle((0, 0, size - 1, size - 1), outline=170, width=max(1, dpi // 150))
    pad = dpi // 12
    inner = size - 2 * pad
    kind = "END SESSION" if command.kind == "session" else command.label.split(":")[0].upper()
    text = "End session" if command.kind == "session" else command.value.replace("-", " ")
    fonts = [_fitted_font(draw, t, s, inner) for t, s in
             ((kind, dpi // 9), (text, dpi // 7), (command.payload, dpi // 16))]
    heights = [f.getbbox("Ag")[3] for f in fonts]
    draw.text((size // 2, pad), kind, fill=0, font=fonts[0], anchor="mt")
    bottom = size - pad
    draw.text((size // 2, bottom), command.payload, fill=90, font=fonts[2], anchor="md")
    bottom -= heights[2] + pad // 3
    draw.text((size // 2, bottom), text, fill=0, font=fonts[1], anchor="md")
    bottom -= heights[1] + pad // 3
    top = pad + heights[0] + pad // 3
    code = render_barcode(command.payload, symbology, min(bottom - top, inner))
    card.paste(code, ((size - code.width) // 2, top + (bottom - top - code.height) // 2))
    return card


def render_pages(
    commands: Sequence[Command], symbology: str = "qrcode", paper: str | None = "a4",
    dpi: int = DPI,
) -> list[Image.Image]:
    """Cards laid out in a grid on pages of ``paper``; ``paper=None`` puts every card on one
    page as tall as needed (the PNG sheet)."""
    if not commands:
        raise SheetError("no command cards to print")
    if paper is not None and paper not in PAPER_INCHES:
        raise SheetError(f"paper must be one of {sorted(PAPER_INCHES)}")
    width_in, height_in = PAPER_INCHES[paper or "a4"]
    page_w = int(width_in * dpi)
    margin = int(MARGIN_INCHES * dpi)
    card = int(CARD_INCHES * dpi)
    gap = dpi // 10
    cols = max(1, (page_w - 2 * margin + gap) // (card + gap))
    if paper is None:
        rows = -(-len(commands) // cols)
        page_h = 2 * margin + rows * card + (rows - 1) * gap
    else:
        page_h = int(height_in * dpi)
        rows = max(1, (page_h - 2 * margin + gap) // (card + gap))
    per_page = cols * rows
    pages = []
    for start in range(0, len(commands), per_page):
        page = Image.new("L", (page_w, page_h), 255)
        left0 = (page_w - (cols * card + (cols - 1) * gap)) // 2
        for i, command in enumerate(commands[start:start + per_page]):
            row, col = divmod(i, cols)
            page.paste(render_card(command, symbology, dpi),
                       (left0 + col * (card + gap), margin + row * (card + gap)))
        pages.append(page)
    return pages


def write_sheet(
    path: Path, commands: Sequence[Command], symbology: str = "qrcode", paper: str = "a4",
) -> int:
    """Write the sheet to ``path`` (``.pdf`` or ``.png``); returns the number of pages.

    The file is written next to its final name and renamed into place, so a failure never
    leaves half a sheet behind.
    """
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise SheetError("the sheet file name must end in .pdf or .png")
    pages = render_pages(commands, symbology, paper if suffix == ".pdf" else None)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if suffix == ".pdf":
            pages[0].save(tmp, format="PDF", save_all=True, append_images=pages[1:],
                          resolution=float(DPI), quality=95, title="Capture station command cards")
        else:
            pages[0].save(tmp, format="PNG", dpi=(DPI, DPI), optimize=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(pages)
