"""Page scenes for the fake camera: an A4 page lying on a desk, photographed at an angle.

Document mode needs photos whose truth is known: the page is drawn flat (text, a QR code, a
drawing and some handwriting), placed in 3-D (tilted towards or away from the camera, turned
on the desk) and projected through a pinhole camera, then lit unevenly, shadowed and laid on a
textured desk. :func:`page_corners` gives where the page's corners land in the still, in the
page's own order (its printed top-left first), so tests can measure corner error, aspect ratio
and orientation exactly. Pillow draws and warps everything: the fake needs no OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

#: A4 in millimetres (width, height).
A4_MM = (210.0, 297.0)
#: Focal length as a share of the still's width: a Pi HQ camera with its 6 mm lens.
FOCAL_SHARE = 0.95
PAPER = (246, 244, 238)
INK = (28, 28, 34)
#: The printed body text: ordinary English, so its letters (more ascenders than descenders)
#: are like a real form's.
WORDS = (
    "I agree that the clinical team may take photographs of the affected area of my body. "
    "The photographs will be kept in my health record with the other notes about my care. "
    "They help the team to follow how the wound heals and to plan the treatment that is best "
    "for me. I understand that the photographs will not be shown to anyone outside the team "
    "that looks after me without my written consent. I have been told that I may withdraw "
    "this consent at any time and that this will not affect the care I receive. The doctor or "
    "nurse has explained what the photographs are for and how they will be stored, and I have "
    "had the chance to ask questions. Where a photograph shows my face, it will be used only "
    "when I have agreed to that use in the box below. A copy of this form will be kept in the "
    "record and a second copy will be handed to me."
).split()


@dataclass(frozen=True)
class PageScene:
    """Where the page lies and how it is lit.

    ``tilt`` is the angle (degrees) between the page and the camera's image plane, about an
    axis in the desk at ``tilt_axis`` degrees; ``rotation`` turns the page on the desk (90 and
    180 give a page lying sideways or upside down); ``scale`` is the page's height as a share
    of the frame height when seen square on; ``offset`` moves its centre (fractions of the
    frame), far enough to push it partly out of view. ``light`` scales the illumination
    (0.35 is a dim room); ``shadow`` casts a soft shadow across part of the page.
    ``content`` is ``"text"`` (a printed form with a QR code, a drawing and handwriting) or
    ``"sketch"`` (mostly a coloured drawing); ``qr`` is the text of the printed QR code.
    """

    tilt: float = 20.0
    tilt_axis: float = 30.0
    rotation: float = 4.0
    scale: float = 0.8
    offset: tuple[float, float] = (0.0, 0.0)
    light: float = 1.0
    shadow: bool = True
    content: str = "text"
    qr: str = "DOC-0042"


def page_homography(page: PageScene, size: tuple[int, int]) -> np.ndarray:
    """The 3x3 map from page millimetres (origin at the printed top-left) to still pixels
    (continuous coordinates: a pixel's centre is at +0.5)."""
    width, height = size
    focal = FOCAL_SHARE * width
    distance = A4_MM[1] * focal / (page.scale * height)
    turn = _rotation((0.0, 0.0, 1.0), math.radians(page.rotation))
    axis = (math.cos(math.radians(page.tilt_axis)), math.sin(math.radians(page.tilt_axis)), 0.0)
    pose = _rotation(axis, math.radians(page.tilt)) @ turn
    shift = np.array([page.offset[0] * width * distance / focal,
                      page.offset[1] * height * distance / focal, distance])
    camera = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    centre = np.array([[1.0, 0.0, -A4_MM[0] / 2], [0.0, 1.0, -A4_MM[1] / 2], [0.0, 0.0, 1.0]])
    plane = np.column_stack([pose[:, 0], pose[:, 1], shift])
    return camera @ plane @ centre


def page_corners(page: PageScene, size: tuple[int, int]) -> np.ndarray:
    """The page's corners in the still, shape (4, 2): printed top-left, top-right,
    bottom-right, bottom-left, in OpenCV's convention (a pixel's centre at integers)."""
    w, h = A4_MM
    mm = np.array([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [w, h, 1.0], [0.0, h, 1.0]]).T
    projected = page_homography(page, size) @ mm
    return (projected[:2] / projected[2]).T - 0.5


def render_page_scene(page: PageScene, size: tuple[int, int], seed: int) -> Image.Image:
    """The still (RGB, ``size``): desk, the page's drop shadow, the page, then the light."""
    width, height = size
    rng = np.random.default_rng(seed)
    # The flat page is drawn a little finer than it appears, so the warp only shrinks it.
    px_per_mm = 1.25 * page.scale * height / A4_MM[1]
    flat = render_page(page, px_per_mm)
    to_page = np.diag([1.0 / px_per_mm, 1.0 / px_per_mm, 1.0])
    homography = page_homography(page, size) @ to_page
    inverse = np.linalg.inv(homography)
    inverse /= inverse[2, 2]
    coefficients = tuple(float(c) for c in inverse.flatten()[:8])
    warped = flat.convert("RGBA").transform(size, Image.PERSPECTIVE, coefficients,
                                            Image.BILINEAR, fillcolor=(0, 0, 0, 0))
    image = _desk(size, rng)
    corners = page_corners(page, size) + 0.5
    # Drop shadow: the page's outline, nudged away from the light and blurred, darkens the desk.
    lo = (max(1, width // 8), max(1, height // 8))
    drop = Image.new("L", lo, 255)
    nudge = 0.006 * width
    ImageDraw.Draw(drop).polygon([((x + nudge) / 8, (y + nudge) / 8) for x, y in corners],
                                 fill=150)
    drop = drop.filter(ImageFilter.GaussianBlur(width / 400)).resize(size, Image.BILINEAR)
    image = ImageChops.multiply(image, Image.merge("RGB", (drop, drop, drop)))
    image.paste(warped.convert("RGB"), (0, 0), warped.getchannel("A"))
    return ImageChops.multiply(image, _light(page, size, rng))


def render_page(page: PageScene, px_per_mm: float) -> Image.Image:
    """The page as printed and written on, flat, ``px_per_mm`` pixels per millimetre."""
    w, h = (round(d * px_per_mm) for d in A4_MM)
    image = Image.new("RGB", (w, h), PAPER)
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(len(page.qr) * 31 + (page.content == "sketch"))

    def mm(*values: float) -> tuple[float, ...]:
        return tuple(v * px_per_mm for v in values)

    def font(size_mm: float) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
        try:
            return ImageFont.load_default(size=max(6, round(size_mm * px_per_mm)))
        except (TypeError, OSError, ImportError):  # Pillow without FreeType
            return ImageFont.load_default()

    title = "Consent to clinical photography" if page.content == "text" else "Wound sketch"
    draw.text(mm(20, 16), title, fill=INK, font=font(7.0))
    _paste_qr(image, page.qr, mm(164, 12, 26))
    lines = 22 if page.content == "text" else 4
    body = font(3.6)
    position = int(rng.integers(len(WORDS)))
    for i in range(lines):
        text = ""
        while True:
            word = WORDS[position % len(WORDS)]
            if draw.textlength(f"{text} {word}", font=body) > 170 * px_per_mm:
                break
            text, position = f"{text} {word}".strip(), position + 1
        draw.text(mm(20, 46 + 6.5 * i), text, fill=INK, font=body)
    top = 46 + 6.5 * lines + 8
    _drawing(draw, mm, top, big=page.content == "sketch")
    # Handwriting: a signature and a short note, in blue ink.
    ink = (30, 45, 120)
    for row in range(2):
        x0, y0 = 25.0, 262.0 + 10 * row
        points = [mm(x0 + t * 0.9, y0 + 2.2 * math.sin(t * 1.7 + row) * math.cos(t * 0.31))
                  for t in range(0, 70 + 40 * row)]
        draw.line(points, fill=ink, width=max(1, round(0.45 * px_per_mm)))
    draw.text(mm(20, 285), "Form CP-1 - page 1 of 1", fill=INK, font=font(2.5))
    return image


def _drawing(draw: ImageDraw.ImageDraw, mm, top: float, big: bool) -> None:
    """A body outline with a marked lesion and an arrow: what staff sketch on a form."""
    span = 120.0 if big else 60.0
    cx, cy = 105.0, top + span / 2
    pen = (40, 60, 150)
    width = max(2, round(mm(0.6)[0]))
    r = span / 10
    draw.ellipse(mm(cx - r, top, cx + r, top + 2 * r), outline=pen, width=width)
    draw.line([mm(cx, top + 2 * r), mm(cx, top + span * 0.7)], fill=pen, width=width)
    draw.line([mm(cx - span / 3, top + span * 0.35), mm(cx, top + span * 0.3),
               mm(cx + span / 3, top + span * 0.35)], fill=pen, width=width)
    draw.line([mm(cx - span / 5, top + span), mm(cx, top + span * 0.7),
               mm(cx + span / 5, top + span)], fill=pen, width=width)
    draw.ellipse(mm(cx + span / 5, cy - span / 14, cx + span / 3, cy + span / 14),
                 outline=(200, 30, 30), width=width)
    draw.polygon([mm(cx + span * 0.42, cy), mm(cx + span * 0.55, cy - span * 0.04),
                  mm(cx + span * 0.55, cy + span * 0.04)], fill=(30, 140, 60))


def _paste_qr(image: Image.Image, text: str, box: tuple[float, ...]) -> None:
    import zxingcpp

    x, y, side = box
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    modules = np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=1))
    code = Image.fromarray(modules, mode="L").resize((round(side), round(side)), Image.NEAREST)
    image.paste(code.convert("RGB"), (round(x), round(y)))


def _desk(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A brown desk with wood-like streaks, drawn small and enlarged (cheap at 12 MP)."""
    width, height = size
    lo_w, lo_h = max(2, width // 16), max(2, height // 16)
    streaks = rng.normal(0.0, 1.0, (lo_h, max(2, lo_w // 12)))
    grain = np.asarray(Image.fromarray(streaks.astype(np.float32), mode="F")
                       .resize((lo_w, lo_h), Image.BILINEAR))
    base = np.array([118.0, 84.0, 58.0])
    desk = base * (1.0 + 0.08 * grain[..., None]) + rng.normal(0, 3, (lo_h, lo_w, 1))
    small = Image.fromarray(np.clip(desk, 0, 255).astype(np.uint8), mode="RGB")
    return small.resize(size, Image.BILINEAR)


def _light(page: PageScene, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Uneven light (brighter on one side, darker corners) and a soft cast shadow."""
    width, height = size
    lo_w, lo_h = max(2, width // 16), max(2, height // 16)
    y = np.linspace(-1.0, 1.0, lo_h)[:, None]
    x = np.linspace(-1.0, 1.0, lo_w)[None, :]
    angle = rng.uniform(0, 2 * math.pi)
    light = 0.86 + 0.14 * (x * math.cos(angle) + y * math.sin(angle))
    light = light * (1.0 - 0.12 * (x**2 + y**2))
    if page.shadow:
        # A shadow cast by someone leaning over the desk: a soft-edged blob from one side.
        cx, cy = rng.uniform(-0.9, -0.4), rng.uniform(-0.6, 0.6)
        blob = np.exp(-(((x - cx) / 0.45) ** 2 + ((y - cy) / 0.7) ** 2) ** 2)
        light = light * (1.0 - 0.45 * blob)
    light = np.clip(light * page.light, 0.0, 1.0)
    small = Image.fromarray((light * 255).astype(np.uint8), mode="L")
    small = small.resize(size, Image.BILINEAR)
    return Image.merge("RGB", (small, small, small))


def _rotation(axis: tuple[float, float, float], angle: float) -> np.ndarray:
    """Rodrigues' rotation matrix about the unit vector ``axis``."""
    k = np.array(axis) / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross
