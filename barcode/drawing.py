"""Two back ends for one small drawing vocabulary in millimetres: a PDF page and an image.

The card sheet is laid out once and drawn through :class:`Canvas`: :class:`PdfCanvas` (fpdf2)
keeps every label as real text, so it prints crisp and can be searched; :class:`PilCanvas`
(Pillow) draws the same layout as pixels for the PNG sheet and for a card held up to the
camera in tests. Both use DejaVu Sans when it is installed (any script), else what each
library has built in (the PDF's Helvetica holds Latin-1 only).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont

DPI = 300  # images (barcodes) are made at this resolution
PT = 25.4 / 72  # mm per point
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))

Rgb = tuple[int, int, int]


class Canvas(Protocol):
    """What a card is drawn with: millimetres from the origin set by :meth:`at`, top-left
    corners, text placed on its baseline."""

    def at(self, x: float, y: float) -> None: ...
    def rect(self, x: float, y: float, w: float, h: float, fill: Rgb | None,
             line: Rgb | None = None) -> None: ...
    def polygon(self, points: Sequence[tuple[float, float]], fill: Rgb) -> None: ...
    def ellipse(self, x: float, y: float, w: float, h: float, fill: Rgb) -> None: ...
    def text(self, x: float, baseline: float, text: str, size_pt: float, bold: bool,
             colour: Rgb) -> None: ...
    def measure(self, text: str, size_pt: float, bold: bool) -> float: ...
    def image(self, x: float, y: float, image: Image.Image) -> None: ...


def _font_file(bold: bool) -> Path | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return next((d / name for d in FONT_DIRS if (d / name).is_file()), None)


def _latin1(text: str) -> str:
    """Text for a PDF core font, when no Unicode font is installed."""
    plain = unicodedata.normalize("NFKD", text).encode("latin-1", "ignore").decode("latin-1")
    return plain if plain.strip() else "?"


class PdfCanvas:
    """Draws on an fpdf2 document in millimetres; text stays text."""

    def __init__(self, page_mm: tuple[float, float]) -> None:
        from fpdf import FPDF

        # fontTools logs every subsetting step at INFO; the command's output is for people.
        logging.getLogger("fontTools").setLevel(logging.WARNING)
        self.pdf = FPDF(unit="mm", format=page_mm)
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margin(0)
        self.pdf.set_title("Capture station command cards")
        self.pdf.set_creator("capture-station cards")
        self.unicode = _font_file(False) is not None and _font_file(True) is not None
        if self.unicode:
            self.pdf.add_font("card", "", str(_font_file(False)))
            self.pdf.add_font("card", "B", str(_font_file(True)))
        self._origin = (0.0, 0.0)

    def page(self) -> None:
        self.pdf.add_page()

    def at(self, x: float, y: float) -> None:
        self._origin = (x, y)

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return self._origin[0] + x, self._origin[1] + y

    def _font(self, size_pt: float, bold: bool) -> None:
        self.pdf.set_font("card" if self.unicode else "helvetica", "B" if bold else "", size_pt)

    def _text(self, text: str) -> str:
        return text if self.unicode else _latin1(text)

    def rect(self, x: float, y: float, w: float, h: float, fill: Rgb | None,
             line: Rgb | None = None) -> None:
        x, y = self._xy(x, y)
        if fill is not None:
            self.pdf.set_fill_color(*fill)
        if line is not None:
            self.pdf.set_draw_color(*line)
            self.pdf.set_line_width(0.2)
        style = ("F" if fill else "") + ("D" if line else "")
        self.pdf.rect(x, y, w, h, style=style)

    def polygon(self, points: Sequence[tuple[float, float]], fill: Rgb) -> None:
        self.pdf.set_fill_color(*fill)
        self.pdf.polygon([self._xy(px, py) for px, py in points], style="F")

    def ellipse(self, x: float, y: float, w: float, h: float, fill: Rgb) -> None:
        x, y = self._xy(x, y)
        self.pdf.set_fill_color(*fill)
        self.pdf.ellipse(x, y, w, h, style="F")

    def text(self, x: float, baseline: float, text: str, size_pt: float, bold: bool,
             colour: Rgb) -> None:
        x, baseline = self._xy(x, baseline)
        self._font(size_pt, bold)
        self.pdf.set_text_color(*colour)
        self.pdf.text(x, baseline, self._text(text))

    def measure(self, text: str, size_pt: float, bold: bool) -> float:
        self._font(size_pt, bold)
        return float(self.pdf.get_string_width(self._text(text)))

    def image(self, x: float, y: float, image: Image.Image) -> None:
        x, y = self._xy(x, y)
        self.pdf.image(image, x, y, w=image.width * 25.4 / DPI, h=image.height * 25.4 / DPI)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


class PilCanvas:
    """Draws the same layout on an RGB image at ``dpi``."""

    def __init__(self, page_mm: tuple[float, float], dpi: int = DPI) -> None:
        self.scale = dpi / 25.4
        self.dpi = dpi
        self.image_out = Image.new("RGB", (self._px(page_mm[0]), self._px(page_mm[1])),
                                   (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image_out)
        self._origin = (0.0, 0.0)
        self._fonts: dict[tuple[int, bool], ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

    def _px(self, mm: float) -> int:
        return round(mm * self.scale)

    def at(self, x: float, y: float) -> None:
        self._origin = (x, y)

    def _xy(self, x: float, y: float) -> tuple[int, int]:
        return self._px(self._origin[0] + x), self._px(self._origin[1] + y)

    def _font(self, size_pt: float, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        px = max(6, round(size_pt * PT * self.scale))
        key = (px, bold)
        if key not in self._fonts:
            path = _font_file(bold)
            try:
                self._fonts[key] = (ImageFont.truetype(str(path), px) if path
                                    else ImageFont.load_default(size=px))
            except (TypeError, OSError, ImportError):  # Pillow without FreeType
                self._fonts[key] = ImageFont.load_default()
        return self._fonts[key]

    def rect(self, x: float, y: float, w: float, h: float, fill: Rgb | None,
             line: Rgb | None = None) -> None:
        x0, y0 = self._xy(x, y)
        x1, y1 = self._xy(x + w, y + h)
        self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill, outline=line,
                            width=max(1, self._px(0.2)) if line else 0)

    def polygon(self, points: Sequence[tuple[float, float]], fill: Rgb) -> None:
        self.draw.polygon([self._xy(px, py) for px, py in points], fill=fill)

    def ellipse(self, x: float, y: float, w: float, h: float, fill: Rgb) -> None:
        x0, y0 = self._xy(x, y)
        x1, y1 = self._xy(x + w, y + h)
        self.draw.ellipse((x0, y0, x1, y1), fill=fill)

    def text(self, x: float, baseline: float, text: str, size_pt: float, bold: bool,
             colour: Rgb) -> None:
        self.draw.text(self._xy(x, baseline), text, fill=colour, font=self._font(size_pt, bold),
                       anchor="ls")

    def measure(self, text: str, size_pt: float, bold: bool) -> float:
        return self.draw.textlength(text, font=self._font(size_pt, bold)) / self.scale

    def image(self, x: float, y: float, image: Image.Image) -> None:
        factor = self.dpi / DPI
        if factor != 1:
            image = image.resize((round(image.width * factor), round(image.height * factor)),
                                 Image.NEAREST)
        self.image_out.paste(image.convert("RGB"), self._xy(x, y))
