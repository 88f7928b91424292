"""The printable command-card sheet: cards a nurse tells apart at arm's length, ready to cut out.

Each category (consent, body site, laterality, document, session) has its own colour band and
symbol, so the right card is found in a stack by colour and shape before its words are read,
and a large label ("PATIENT'S LEFT") readable with the card held out towards the camera. A
legend card says what each light and beep means (its rows are given by the caller, from the
signal table).

One layout, in millimetres, is drawn twice: into a PDF with fpdf2, where every label is real
text (crisp on any printer, searchable) and each barcode one lossless image at 300 dpi, and
into a PNG with Pillow (one tall sheet). The barcodes are written by zxing-cpp, the library
that reads them, with whole pixels per module. The module renders bytes; the caller writes the
file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .commands import Command
from .drawing import DPI, PT, Canvas, PdfCanvas, PilCanvas, Rgb
from .errors import BarcodeError

CARD_SYMBOLOGIES = {"qrcode": "QRCode", "datamatrix": "DataMatrix"}
PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
CARD_W, CARD_H = 92.0, 82.0  # mm: two across and three down on A4 and on Letter
GAP = 5.0  # mm between cards (cut lines)
BAND_H = 14.0
BARCODE_MM = 46.0  # largest barcode box; smaller when the label takes two lines
QUIET_MODULES = 4
#: Smallest module printed (6 px at 300 dpi = 0.5 mm): a card held at arm's length must still
#: give the 640x480 preview about 2 pixels per module.
MIN_MODULE_PX = 6


class SheetError(BarcodeError, ValueError):
    """The sheet cannot be produced as asked (unknown format, payload too long...)."""


@dataclass(frozen=True)
class Style:
    """How a category's cards look: band title, band colour, symbol."""

    title: str
    colour: Rgb
    symbol: str  # circle, square, diamond, triangle, octagon, info


STYLES: dict[str, Style] = {
    "consent": Style("CONSENT", (27, 120, 55), "circle"),
    "site": Style("BODY SITE", (33, 102, 172), "square"),
    "laterality": Style("SIDE", (179, 88, 6), "diamond"),
    "document": Style("DOCUMENT", (118, 42, 131), "triangle"),
    "session": Style("SESSION", (178, 24, 43), "octagon"),
    "legend": Style("WHAT THE LIGHT SAYS", (60, 60, 60), "info"),
}

LATERALITY_LABELS = {"left": "PATIENT'S LEFT", "right": "PATIENT'S RIGHT",
                     "bilateral": "BOTH SIDES", "midline": "MIDLINE"}
DOCUMENT_LABELS = {"consent-form": "CONSENT FORM", "referral": "REFERRAL", "sketch": "SKETCH",
                   "other": "OTHER DOCUMENT", "end": "END DOCUMENT", "retake": "RETAKE PAGE"}


def card_label(command: Command) -> str:
    """The large words on a card, as a nurse says them."""
    value = command.value.replace("-", " ").upper()
    if command.kind == "consent":
        return "EMERGENCY OVERRIDE" if command.value == "emergency-override" else (
            f"CONSENT: {value}")
    if command.kind == "laterality":
        return LATERALITY_LABELS.get(command.value, value)
    if command.kind == "document":
        return DOCUMENT_LABELS.get(command.value, value)
    if command.kind == "session":
        return "END SESSION"
    return value


@dataclass(frozen=True)
class LegendRow:
    """One line of the legend card: the light's rhythm drawn as a strip, and its meaning."""

    timeline: tuple[tuple[bool, float], ...]  # (lit, seconds); empty: steady
    colour: Rgb  # the RGB LED's colour (a single LED shows the same rhythm)
    repeats: bool
    meaning: str
    sound: str = ""


@dataclass(frozen=True)
class Legend:
    rows: tuple[LegendRow, ...]
    note: str = ""


# ---- the cards --------------------------------------------------------------------------------
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


WHITE: Rgb = (255, 255, 255)
BLACK: Rgb = (0, 0, 0)
GREY: Rgb = (110, 110, 110)
CUT: Rgb = (175, 175, 175)


def _symbol(canvas: Canvas, kind: str, x: float, y: float, size: float, colour: Rgb) -> None:
    """The category's shape in a ``size`` mm square at (x, y)."""
    c, r = size / 2, size / 2
    cx, cy = x + c, y + c
    if kind == "circle":
        canvas.ellipse(x, y, size, size, colour)
    elif kind == "square":
        canvas.rect(x + size * 0.08, y + size * 0.08, size * 0.84, size * 0.84, colour)
    elif kind == "diamond":
        canvas.polygon([(cx, y), (x + size, cy), (cx, y + size), (x, cy)], colour)
    elif kind == "triangle":
        canvas.polygon([(cx, y), (x + size, y + size * 0.92), (x, y + size * 0.92)], colour)
    elif kind == "octagon":
        k = r * 0.414
        canvas.polygon([(cx - k, y), (cx + k, y), (x + size, cy - k), (x + size, cy + k),
                        (cx + k, y + size), (cx - k, y + size), (x, cy + k), (x, cy - k)],
                       colour)
    else:  # info: a disc with an "i"
        canvas.ellipse(x, y, size, size, colour)


def _fit(canvas: Canvas, text: str, width: float, largest: float, smallest: float,
         bold: bool = True) -> float:
    """The largest font size (pt) from ``largest`` down at which ``text`` fits ``width``."""
    size = largest
    while size > smallest and canvas.measure(text, size, bold) > width:
        size -= 1
    return size


def _label_lines(canvas: Canvas, text: str, width: float) -> tuple[list[str], float]:
    """One line as large as fits, else two balanced lines (never below a readable size)."""
    size = _fit(canvas, text, width, 30, 18)
    if canvas.measure(text, size, True) <= width or " " not in text:
        return [text], _fit(canvas, text, width, size, 6)
    words = text.split(" ")
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    lines = min(splits, key=lambda pair: max(canvas.measure(s, 10, True) for s in pair))
    size = min(_fit(canvas, line, width, 22, 6) for line in lines)
    return list(lines), size


def _band(canvas: Canvas, style: Style, width: float) -> None:
    canvas.rect(0, 0, width, BAND_H, style.colour)
    _symbol(canvas, style.symbol, 3, 2.5, BAND_H - 5, WHITE)
    if style.symbol == "info":
        canvas.text(3 + (BAND_H - 5) / 2 - canvas.measure("i", 16, True) / 2, BAND_H - 4.2,
                    "i", 16, True, style.colour)
    canvas.text(BAND_H + 1, BAND_H - 4.2, style.title,
                _fit(canvas, style.title, width - BAND_H - 4, 16, 8), True, WHITE)


def draw_card(canvas: Canvas, command: Command, symbology: str = "qrcode") -> None:
    """One card at the canvas origin: colour band with symbol and category, the large label,
    the barcode as large as the rest of the card allows, and the payload in small print (staff
    can check a card before trusting it)."""
    style = STYLES[command.kind]
    canvas.rect(0, 0, CARD_W, CARD_H, None, CUT)
    _band(canvas, style, CARD_W)
    lines, size = _label_lines(canvas, card_label(command), CARD_W - 8)
    line_h = size * PT * 1.15
    y = BAND_H + 3 + size * PT * 0.75
    for line in lines:
        canvas.text((CARD_W - canvas.measure(line, size, True)) / 2, y, line, size, True, BLACK)
        y += line_h
    label_bottom = y - line_h + 1.5
    bottom = CARD_H - 5.5
    box_mm = min(BARCODE_MM, bottom - label_bottom)
    barcode = render_barcode(command.payload, symbology, int(box_mm / 25.4 * DPI))
    code_mm = barcode.width * 25.4 / DPI
    canvas.image((CARD_W - code_mm) / 2, label_bottom + (bottom - label_bottom - code_mm) / 2,
                 barcode)
    # The symbol again beside the barcode: a card is recognised even with the band covered.
    _symbol(canvas, style.symbol, 4, CARD_H - 15, 9, style.colour)
    payload_size = _fit(canvas, command.payload, CARD_W - 8, 7, 4, bold=False)
    canvas.text((CARD_W - canvas.measure(command.payload, payload_size, False)) / 2,
                CARD_H - 2.3, command.payload, payload_size, False, GREY)


def _wrap(canvas: Canvas, text: str, width: float, size: float, bold: bool) -> list[str]:
    """``text`` in lines no wider than ``width`` (a word longer than a line stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and canvas.measure(f"{lines[-1]} {word}", size, bold) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


LEGEND_SECONDS = 4.5  # the time a legend strip shows


def draw_legend(canvas: Canvas, legend: Legend, height: float) -> None:
    """The legend card: each row a strip drawn as the light looks over a few seconds."""
    style = STYLES["legend"]
    canvas.rect(0, 0, CARD_W, height, None, CUT)
    _band(canvas, style, CARD_W)
    rows = legend.rows
    top = BAND_H + 3
    note_h = 8.0 if legend.note else 0.0
    row_h = (height - top - note_h - 2) / max(1, len(rows))
    strip_w, strip_h = 30.0, min(5.0, row_h * 0.45)
    text_x = 4 + strip_w + 3
    text_w = CARD_W - text_x - 3
    for i, row in enumerate(rows):
        y = top + i * row_h
        canvas.rect(4, y + 1, strip_w, strip_h, (40, 40, 40))
        lit_colour = tuple(255 if c else 0 for c in row.colour) if any(row.colour) else WHITE
        t = 0.0
        segments = list(row.timeline) or [(True, LEGEND_SECONDS)]
        while t < LEGEND_SECONDS:
            for lit, seconds in segments:
                if t >= LEGEND_SECONDS:
                    break
                span = min(seconds, LEGEND_SECONDS - t)
                if lit:
                    canvas.rect(4 + t / LEGEND_SECONDS * strip_w, y + 1,
                                max(0.4, span / LEGEND_SECONDS * strip_w), strip_h, lit_colour)
                t += span
            if not row.repeats:
                break
        lines = _wrap(canvas, row.meaning, text_w, 8.5, True)
        size = min(_fit(canvas, line, text_w, 8.5, 5) for line in lines[:2])
        baseline = y + 1 + strip_h * 0.8
        for line in lines[:2]:
            canvas.text(text_x, baseline, line, size, True, BLACK)
            baseline += 3.6
        if row.sound:
            canvas.text(text_x, baseline, row.sound,
                        _fit(canvas, row.sound, text_w, 7.5, 5, bold=False), False, GREY)
    if legend.note:
        size = _fit(canvas, legend.note, CARD_W - 8, 7.5, 5, bold=False)
        canvas.text(4, height - 4, legend.note, size, False, GREY)


# ---- the sheet --------------------------------------------------------------------------------
@dataclass
class _Page:
    slots: list[tuple[int, int, object]] = field(default_factory=list)  # row, col, item


def _layout(items: Sequence[object], cols: int, rows: int | None) -> list[_Page]:
    """Cards in a grid, row by row; the legend (first) takes two rows of the first column.
    ``rows=None``: one page as long as needed."""
    pages: list[_Page] = []
    taken: set[tuple[int, int]] = set()
    page = _Page()
    r = c = 0
    for item in items:
        tall = isinstance(item, Legend)
        while True:
            if rows is not None and r + (2 if tall else 1) > rows:
                if rows < 2 and tall:
                    raise SheetError("the page is too small for the legend card")
                pages.append(page)
                page, taken, r, c = _Page(), set(), 0, 0
                continue
            if (r, c) not in taken and not (tall and (r + 1, c) in taken):
                break
            c += 1
            if c >= cols:
                r, c = r + 1, 0
        page.slots.append((r, c, item))
        taken.add((r, c))
        if tall:
            taken.add((r + 1, c))
        c += 1
        if c >= cols:
            r, c = r + 1, 0
    pages.append(page)
    return pages


def _grid(paper: str) -> tuple[int, int]:
    """Columns and rows of cards that fit on ``paper`` inside 8 mm margins."""
    width, height = PAPER_MM[paper]
    return (max(1, int((width - 2 * 8 + GAP) // (CARD_W + GAP))),
            max(1, int((height - 2 * 8 + GAP) // (CARD_H + GAP))))


def _draw_pages(canvas_for: Callable[[], Canvas], pages: list[_Page],
                page_mm: tuple[float, float], cols: int, symbology: str) -> list[Canvas]:
    width, _ = page_mm
    grid_w = cols * CARD_W + (cols - 1) * GAP
    left = (width - grid_w) / 2
    top = 10.0
    canvases = []
    for page in pages:
        canvas = canvas_for()
        canvases.append(canvas)
        for r, c, item in page.slots:
            canvas.at(left + c * (CARD_W + GAP), top + r * (CARD_H + GAP))
            if isinstance(item, Legend):
                draw_legend(canvas, item, 2 * CARD_H + GAP)
            else:
                assert isinstance(item, Command)
                draw_card(canvas, item, symbology)
    return canvases


def _items(commands: Sequence[Command], legend: Legend | None) -> list[object]:
    if not commands:
        raise SheetError("no command cards to print")
    return ([legend] if legend else []) + list(commands)


def render_pages(
    commands: Sequence[Command], symbology: str = "qrcode", paper: str | None = "a4",
    legend: Legend | None = None, dpi: int = DPI,
) -> list[Image.Image]:
    """The sheet as images; ``paper=None`` puts every card on one page as tall as needed
    (the PNG sheet)."""
    items = _items(commands, legend)
    if paper is not None and paper not in PAPER_MM:
        raise SheetError(f"paper must be one of {sorted(PAPER_MM)}")
    cols, rows = _grid(paper or "a4")
    pages = _layout(items, cols, None if paper is None else rows)
    if paper is None:  # as wide as A4, as tall as its rows
        used = max(r + (2 if isinstance(i, Legend) else 1) for r, _, i in pages[0].slots)
        page_mm = (PAPER_MM["a4"][0], 2 * 10 + used * CARD_H + (used - 1) * GAP)
    else:
        page_mm = PAPER_MM[paper]
    canvases = _draw_pages(lambda: PilCanvas(page_mm, dpi), pages, page_mm, cols, symbology)
    return [c.image_out for c in canvases if isinstance(c, PilCanvas)]


def render_card(command: Command, symbology: str = "qrcode", dpi: int = DPI) -> Image.Image:
    """One card alone, as the camera would see it held up."""
    canvas = PilCanvas((CARD_W, CARD_H), dpi)
    draw_card(canvas, command, symbology)
    return canvas.image_out


def render_pdf(
    commands: Sequence[Command], symbology: str = "qrcode", paper: str = "a4",
    legend: Legend | None = None,
) -> tuple[bytes, int]:
    """The sheet as a PDF (real text, barcodes as images); returns the bytes and page count."""
    items = _items(commands, legend)
    if paper not in PAPER_MM:
        raise SheetError(f"paper must be one of {sorted(PAPER_MM)}")
    cols, rows = _grid(paper)
    pages = _layout(items, cols, rows)
    page_mm = PAPER_MM[paper]
    pdf = PdfCanvas(page_mm)

    def next_page() -> PdfCanvas:
        pdf.page()
        return pdf

    _draw_pages(next_page, pages, page_mm, cols, symbology)
    return pdf.output(), len(pages)


def render_sheet(
    suffix: str, commands: Sequence[Command], symbology: str = "qrcode", paper: str = "a4",
    legend: Legend | None = None,
) -> tuple[bytes, int]:
    """The sheet for a file ending in ``suffix`` (``.pdf`` or ``.png``): bytes and pages."""
    suffix = suffix.lower()
    if suffix == ".pdf":
        return render_pdf(commands, symbology, paper, legend)
    if suffix != ".png":
        raise SheetError("the sheet file name must end in .pdf or .png")
    (page,) = render_pages(commands, symbology, None, legend)
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue(), 1
