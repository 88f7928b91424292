"""Hard frames: what a fixed exam-room camera sees when a nurse holds up a wristband.

Generated, deterministic and seeded (numpy, Pillow and zxing-cpp's writer; nothing shipped as
an image), at the two lores sizes the station scans, 640x480 and 1280x720, each with the
matching *main* stream at twice the size (what escalation crops from). Conditions:

``curved``   the band wrapped round a wrist (a cylinder; the symbol spans 50-90 degrees of it)
``tilted``   the band turned 30-45 degrees out of the image plane, with perspective
``glare``    a saturating ceiling-light highlight on the laminate
``motion``   hand motion during the exposure, 2.5-4.5 lores pixels in any direction
``dim``      a dim room: 12-20 % exposure with sensor (shot + read) noise at high gain
``jpeg``     a hard-JPEG preview (quality 8-14)
``small``    the band at arm's length: 1.3-1.7 lores pixels per module at 640x480
``upside``   the band held upside down (180 degrees, give or take 6)
``badge``    a staff badge (GS1 8017) in the same frame as the band

Sizes are physical: the same band at the same distance has twice the pixels per module in a
1280-wide frame as in a 640-wide one (same field of view). Every frame also gets the small
pose jitter a hand gives (a few degrees of turn and tilt, a gently curved band).

:func:`frame` is the lores Y plane of a case; :func:`main_crop` the main stream's Y plane for
a box given in lores pixels, the seam the station's escalation uses. ``k`` numbers
consecutive frames of a band held still: the same pose within a pixel, new noise, new motion.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw

from capture.fake import ZXING_FORMATS, Scene, render_scene

from .corpus import CAREGIVER, ENCOUNTER, LOCAL_MRN, PATIENT, Expected

CONDITIONS = ("curved", "tilted", "glare", "motion", "dim", "jpeg", "small", "upside", "badge")
SIZES = {"640": (640, 480), "720": (1280, 720)}
WRISTBANDS = ("code128", "datamatrix", "qrcode", "pdf417")
SEEDS = (1, 2, 3)
MAIN_SCALE = 2  # the main stream is twice the lores size in each direction
_SS = 2  # the band is drawn at twice the main resolution, then box-filtered (anti-aliasing)

#: Ordinary size of one module in lores pixels at 640 wide (doubled at 1280 wide).
_MODULE_640 = {"code128": (1.9, 2.4), "pdf417": (1.9, 2.4), "datamatrix": (2.6, 3.4),
               "qrcode": (2.6, 3.4)}
_SMALL_640 = (1.3, 1.7)
_QUIET = {"code128": 10, "pdf417": 2, "datamatrix": 2, "qrcode": 4}


@dataclass(frozen=True)
class HardCase:
    condition: str
    size: str  # "640" or "720"
    symbology: str  # the wristband's
    seed: int

    @property
    def name(self) -> str:
        return f"{self.condition}-{self.symbology}-{self.size}-s{self.seed}"

    @property
    def expected(self) -> tuple[Expected, ...]:
        band = _band_content(self.symbology)[2]
        if self.condition == "badge":
            return (band, Expected("caregiver", CAREGIVER, "GS1"))
        return (band,)

    @property
    def patient(self) -> Expected:
        return self.expected[0]


def hard_cases() -> list[HardCase]:
    """Every condition x size x wristband symbology x seed (216 frames)."""
    return [HardCase(c, s, sym, seed) for c in CONDITIONS for s in SIZES for sym in WRISTBANDS
            for seed in SEEDS]


def _band_content(symbology: str) -> tuple[str, bool, Expected]:
    if symbology == "pdf417":
        return (f"MRN^{LOCAL_MRN}^ENC^A77", False,
                Expected("patient", LOCAL_MRN, "ST-MARY", "A77"))
    if symbology in ("datamatrix", "qrcode"):
        return (f"(8018){PATIENT}(8019){ENCOUNTER}", True,
                Expected("patient", PATIENT, "GS1", ENCOUNTER))
    return f"(8018){PATIENT}", True, Expected("patient", PATIENT, "GS1")


@cache
def _modules(symbology: str, content: str, gs1: bool) -> np.ndarray:
    """The symbol, one pixel per module, 0 = dark, with its quiet zone (uint8 0/255)."""
    fmt = getattr(zxingcpp.BarcodeFormat, ZXING_FORMATS[symbology])
    kwargs = {"gs1": True} if gs1 else {}
    symbol = zxingcpp.create_barcode(content, fmt, **kwargs)
    mods = np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=1, add_quiet_zones=False))
    if symbology == "code128":  # a linear symbol: bars about a fifth as tall as long
        mods = np.repeat(mods[:1], max(12, mods.shape[1] // 5), axis=0)
    q = _QUIET[symbology]
    return np.pad(mods, q, constant_values=255)


@dataclass(frozen=True)
class _Pose:
    """Where a label lies and how: all in main-stream pixels and degrees."""

    center: tuple[float, float]
    module: float  # main pixels per module
    rotate: float  # in-plane, degrees
    tilt: float  # out of plane, degrees
    tilt_axis: int  # 0: foreshortens along the band (u), 1: across it (v)
    wrap: float  # half the angle the symbol spans round the wrist, degrees (0: flat)


def _pose(case: HardCase, rng: np.random.Generator, main_w: int, badge: bool) -> _Pose:
    scale = main_w / 1280.0 * MAIN_SCALE  # main px per "640-wide lores px"
    lo, hi = _SMALL_640 if case.condition == "small" else _MODULE_640[case.symbology]
    if badge:
        lo, hi = _MODULE_640["qrcode"]
    module = rng.uniform(lo, hi) * scale
    rotate = rng.uniform(-8, 8)
    tilt = rng.uniform(0, 12)
    wrap = rng.uniform(8, 20)
    if case.condition == "upside" and not badge:
        rotate = 180 + rng.uniform(-6, 6)
    if case.condition == "tilted" and not badge:
        tilt = rng.uniform(30, 45)
    if case.condition == "curved" and not badge:
        wrap = rng.uniform(25, 45)
    if badge:
        wrap = 0.0  # a badge is a flat card
    center = (rng.uniform(0.58, 0.68), rng.uniform(0.55, 0.66)) if not badge else \
        (rng.uniform(0.12, 0.18), rng.uniform(0.2, 0.28))
    return _Pose(center, module, rotate, tilt, int(rng.integers(0, 2)), wrap)


def _warp(mods: np.ndarray, pose: _Pose, shape: tuple[int, int],
          shift: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Draw the label (``mods``) in a ``shape`` (h, w) main frame; returns (value, alpha, box).

    Inverse mapping: for each (supersampled) output pixel, undo rotation and scale, then the
    perspective tilt, then the wrap round a cylinder whose axis runs across the band, and look
    the module up. The visible cylinder also shades the label towards its edges.
    """
    h_mod, w_mod = mods.shape
    scale = pose.module  # main px per module
    half = 0.5 * math.hypot(h_mod, w_mod) * scale * 1.15 + 4
    cx = pose.center[0] * shape[1] + shift[0]
    cy = pose.center[1] * shape[0] + shift[1]
    x0, x1 = max(0, int(cx - half)), min(shape[1], int(cx + half) + 1)
    y0, y1 = max(0, int(cy - half)), min(shape[0], int(cy + half) + 1)
    ys = (np.arange(y0 * _SS, y1 * _SS, dtype=np.float64) + 0.5) / _SS - cy
    xs = (np.arange(x0 * _SS, x1 * _SS, dtype=np.float64) + 0.5) / _SS - cx
    xg, yg = np.meshgrid(xs, ys)
    t = math.radians(pose.rotate)
    a = (math.cos(t) * xg + math.sin(t) * yg) / scale  # module units, u along the band
    b = (-math.sin(t) * xg + math.cos(t) * yg) / scale
    phi = math.radians(pose.tilt)
    f = 6.0 * max(h_mod, w_mod)  # viewing distance in modules: mild perspective
    if pose.tilt_axis == 0:
        a, b = _untilt(a, b, phi, f)
    else:
        b, a = _untilt(b, a, phi, f)
    visible = np.ones_like(a, dtype=bool)
    shade = np.ones_like(a)
    if pose.wrap > 0:
        radius = (w_mod / 2) / math.radians(pose.wrap)
        ratio = a / radius
        visible = np.abs(ratio) < 0.995
        arc = np.arcsin(np.clip(ratio, -0.995, 0.995))
        a = radius * arc
        shade = 0.6 + 0.4 * np.cos(arc)
    u = np.floor(a + w_mod / 2).astype(np.int64)
    v = np.floor(b + h_mod / 2).astype(np.int64)
    band_half = h_mod / 2 + 3  # the label is a little taller than the symbol
    inside = (u >= 0) & (u < w_mod) & (v >= 0) & (v < h_mod)
    on_band = visible & (np.abs(b) < band_half) & (np.abs(a) < w_mod / 2 + 6)
    value = np.full(a.shape, 240.0)
    value[inside] = np.where(mods[v[inside], u[inside]] > 127, 240.0, 25.0)
    value *= shade
    alpha = on_band.astype(np.float64)
    return _box(value * alpha), _box(alpha), (y0, y1, x0, x1)


def _untilt(p: np.ndarray, q: np.ndarray, phi: float, f: float) -> tuple[np.ndarray, np.ndarray]:
    """Undo a plane turned by ``phi`` about the q axis, seen from distance ``f``."""
    denom = f * math.cos(phi) - p * math.sin(phi)
    denom = np.where(np.abs(denom) < 1e-6, 1e-6, denom)
    p_plane = p * f / denom
    depth = f + p_plane * math.sin(phi)
    return p_plane, q * depth / f


def _box(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[0] // _SS * _SS, img.shape[1] // _SS * _SS
    return img[:h, :w].reshape(h // _SS, _SS, w // _SS, _SS).mean(axis=(1, 3))


@lru_cache(maxsize=8)
def _background(size: str, seed: int) -> np.ndarray:
    lores = SIZES[size]
    main = (lores[0] * MAIN_SCALE, lores[1] * MAIN_SCALE)
    rgb = render_scene(Scene(seed=seed), main)
    return np.asarray(rgb.convert("L"), dtype=np.float32)


@lru_cache(maxsize=4)
def _optical(case: HardCase) -> tuple[np.ndarray, tuple]:
    """The main-stream scene before motion, exposure and noise (float, 0-255 scale)."""
    rng = np.random.default_rng([hash_case(case), 0])
    image = _background(case.size, case.seed).copy()
    _main_h, main_w = image.shape
    labels = [(_band_content(case.symbology), False)]
    if case.condition == "badge":
        labels.append(((f"(8017){CAREGIVER}", True, None), True))
    boxes = []
    for (content, gs1, _), badge in labels:
        symbology = "qrcode" if badge else case.symbology
        pose = _pose(case, rng, main_w, badge)
        value, alpha, (y0, _y1, x0, _x1) = _warp(_modules(symbology, content, gs1), pose,
                                                image.shape)
        h, w = value.shape
        region = image[y0:y0 + h, x0:x0 + w]
        region[...] = region * (1 - alpha) + value
        boxes.append((x0, y0, x0 + w, y0 + h))
    if case.condition == "glare":
        image = _glare(image, boxes[0], rng)
    return image, tuple(boxes)


def hash_case(case: HardCase) -> int:
    """A stable seed for a case (``hash()`` of a str changes between processes)."""
    return zlib.crc32(case.name.encode())


def _glare(image: np.ndarray, box: tuple, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = box
    gx = rng.uniform(x0 + 0.3 * (x1 - x0), x0 + 0.7 * (x1 - x0))
    gy = rng.uniform(y0 + 0.3 * (y1 - y0), y0 + 0.7 * (y1 - y0))
    sigma = rng.uniform(0.08, 0.14) * max(x1 - x0, y1 - y0)
    amp = rng.uniform(170, 230)
    elongation = rng.uniform(1.5, 3.0)  # a tube light's streak
    reach = int(4 * sigma * elongation)
    ys = slice(max(0, int(gy) - reach), min(image.shape[0], int(gy) + reach))
    xs = slice(max(0, int(gx) - reach), min(image.shape[1], int(gx) + reach))
    yy, xx = np.ogrid[ys, xs]
    blob = np.exp(-(((xx - gx) / (sigma * elongation)) ** 2 + ((yy - gy) / sigma) ** 2) / 2)
    image[ys, xs] += amp * blob
    return image


def _motion(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = rng.uniform(2.5, 4.5) * MAIN_SCALE  # lores px -> main px
    angle = rng.uniform(0, math.pi)
    steps = max(2, math.ceil(length) * 2)
    out = np.zeros_like(image)
    for i in range(steps):
        s = (i / (steps - 1) - 0.5) * length
        dx, dy = s * math.cos(angle), s * math.sin(angle)
        out += _shift(image, dx, dy)
    return out / steps


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Sub-pixel shift by bilinear interpolation of whole-pixel rolls (edges wrap; harmless)."""
    ix, iy = math.floor(dx), math.floor(dy)
    fx, fy = dx - ix, dy - iy
    a = np.roll(image, (iy, ix), axis=(0, 1))
    b = np.roll(a, 1, axis=1)
    c = np.roll(a, 1, axis=0)
    d = np.roll(b, 1, axis=0)
    return (1 - fx) * (1 - fy) * a + fx * (1 - fy) * b + (1 - fx) * fy * c + fx * fy * d


@lru_cache(maxsize=4)
def _main_frame(case: HardCase, k: int = 0) -> np.ndarray:
    """Frame ``k`` of the main stream's Y plane (uint8)."""
    rng = np.random.default_rng([hash_case(case), 1, k])
    image, boxes = _optical(case)
    image = image.copy()
    sway = (rng.uniform(-1.2, 1.2), rng.uniform(-1.2, 1.2)) if k else (0.0, 0.0)
    for x0, y0, x1, y1 in boxes:  # only the labels move: the background is smooth anyway
        m = 16
        y0, y1 = max(0, y0 - m), min(image.shape[0], y1 + m)
        x0, x1 = max(0, x0 - m), min(image.shape[1], x1 + m)
        region = image[y0:y1, x0:x1]
        if k:  # a band held still still sways by a pixel or so
            region = _shift(region, *sway)
        if case.condition == "motion":
            region = _motion(region, rng)
        else:  # every frame has a little lens softness and hand motion
            region = _motion_small(region, rng)
        image[y0 + m // 2:y1 - m // 2, x0 + m // 2:x1 - m // 2] = \
            region[m // 2:region.shape[0] - m // 2, m // 2:region.shape[1] - m // 2]
    if case.condition == "dim":
        exposure = rng.uniform(0.12, 0.20)
        signal = image * exposure  # electrons-ish in 8-bit units at unity gain
        gain = 1.0 / exposure * 0.45  # auto-gain brings the mean up to about half
        shot = rng.normal(0.0, 1.0, image.shape) * np.sqrt(np.maximum(signal, 0) * 0.6)
        read = rng.normal(0.0, 2.2, image.shape)
        image = (signal + shot + read) * gain + 6
    else:
        image = image + rng.normal(0.0, 2.0, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _motion_small(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dx, dy = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
    return 0.5 * image + 0.5 * _shift(image, dx, dy)


@lru_cache(maxsize=512)
def frame(case: HardCase, k: int = 0) -> np.ndarray:
    """Frame ``k`` of the lores stream: the main frame box-filtered down, as the ISP does;
    the ``jpeg`` condition then goes through a hard JPEG round trip."""
    main = _main_frame(case, k).astype(np.float32)
    h, w = main.shape[0] // MAIN_SCALE, main.shape[1] // MAIN_SCALE
    lores = main.reshape(h, MAIN_SCALE, w, MAIN_SCALE).mean(axis=(1, 3))
    luma = np.clip(np.rint(lores), 0, 255).astype(np.uint8)
    if case.condition == "jpeg":
        rng = np.random.default_rng([hash_case(case), 2, k])
        buf = io.BytesIO()
        Image.fromarray(luma).save(buf, format="JPEG", quality=int(rng.integers(8, 15)))
        luma = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    luma = np.ascontiguousarray(luma)
    luma.setflags(write=False)
    return luma


def main_crop(case: HardCase, k: int = 0):
    """The escalation seam for frame ``k``: a box (left, top, right, bottom) in lores pixels
    in, the main stream's Y plane for that box out (``MAIN_SCALE`` times larger)."""
    def crop(box: tuple[int, int, int, int]) -> np.ndarray:
        main = _main_frame(case, k)
        x0, y0, x1, y1 = (round(c * MAIN_SCALE) for c in box)
        return main[max(0, y0):y1, max(0, x0):x1]
    return crop


def preview(case: HardCase, k: int = 0) -> Image.Image:
    """A frame with its name written on it (for looking at the corpus by eye)."""
    image = Image.fromarray(frame(case, k)).convert("RGB")
    ImageDraw.Draw(image).text((4, 4), case.name, fill=(255, 0, 0))
    return image
