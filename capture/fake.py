"""A camera that renders deterministic scenes, so the whole station runs on any Linux box.

The scene is a clinical-looking subject (skin, a lesion, a measuring scale) and, optionally,
wristbands or cards carrying *real* barcodes drawn by zxing-cpp's writer, so the decoders are
exercised exactly as on a Pi. A scene can instead be a page lying on a desk (see
:mod:`capture.fake_page`), for document mode, with its true corners known. Scenes are cached:
switching scene costs one render, preview frames and stills afterwards cost almost nothing,
which keeps benchmarks about the station and not about the fake.
"""

from __future__ import annotations

import io
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .camera import Box, CameraError, Still, crop_factor, main_box
from .fake_page import PageScene, render_page_scene
from .preview import encode_preview

#: zxing-cpp format names for the symbologies the station reads.
ZXING_FORMATS = {
    "code128": "Code128",
    "qrcode": "QRCode",
    "datamatrix": "DataMatrix",
    "pdf417": "PDF417",
}


@dataclass(frozen=True)
class Symbol:
    """One barcode in view.

    ``content`` is passed to zxing-cpp's ``create_barcode``; ``options`` are its writer options.
    ``gs1=True`` writes a genuine GS1 symbol (FNC1 in first position, read back as ``]C1``,
    ``]d2`` or ``]Q3``) from content in the human-readable form ``(8018)7951...``; zxing-cpp
    needs its ``gs1`` creator option for that, ``options="gs1"`` does not do it. ``module_px``
    is the size of one module in the *still* image; ``center`` is the barcode's centre as
    fractions of the frame; ``angle`` rotates it.
    """

    symbology: str
    content: str
    options: str | None = None
    module_px: int = 12
    center: tuple[float, float] = (0.5, 0.5)
    angle: float = 0.0
    gs1: bool = False


@dataclass(frozen=True)
class Scene:
    """What the fake camera sees: zero or more symbols over a subject, plus render effects."""

    symbols: tuple[Symbol, ...] = ()
    seed: int = 7
    blur: float = 0.0
    noise: float = 0.0
    subject: bool = True
    #: A page on a desk instead of the clinical subject (document mode).
    page: PageScene | None = None
    extras: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


EMPTY = Scene()
#: How many recently shown scenes keep their renders.
SCENE_CACHE = 4


def render_symbol(symbol: Symbol) -> Image.Image:
    """The symbol as a black-on-white ``L`` image with quiet zones, ``module_px`` per module."""
    import zxingcpp

    if symbol.symbology not in ZXING_FORMATS:
        raise ValueError(f"unsupported symbology {symbol.symbology!r}")
    fmt = getattr(zxingcpp.BarcodeFormat, ZXING_FORMATS[symbol.symbology])
    kwargs: dict[str, object] = {"options": symbol.options} if symbol.options else {}
    if symbol.gs1:
        kwargs["gs1"] = True
    barcode = zxingcpp.create_barcode(symbol.content, fmt, **kwargs)
    image = zxingcpp.write_barcode_to_image(barcode, scale=max(1, symbol.module_px))
    return Image.fromarray(np.asarray(image), mode="L")


def render_scene(scene: Scene, size: tuple[int, int]) -> Image.Image:
    """Render ``scene`` at ``size`` (width, height) as RGB; same inputs, same pixels."""
    rng = np.random.default_rng(scene.seed)
    if scene.page is not None:
        image = render_page_scene(scene.page, size, scene.seed)
    else:
        image = _render_subject(scene, size, rng)
    for symbol in scene.symbols:
        _paste_symbol(image, symbol)
    if scene.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(scene.blur))
    if scene.noise > 0:
        arr = np.asarray(image).astype(np.int16)
        arr += rng.normal(0, scene.noise, arr.shape).astype(np.int16)
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="RGB")
    return image


def _render_subject(scene: Scene, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    width, height = size
    # Skin-toned gradient with gentle texture: a plausible clinical background.
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    base = np.array([214.0, 168.0, 140.0], dtype=np.float32)
    shade = (0.85 + 0.15 * (1.0 - y) * (0.7 + 0.3 * x))[..., None]
    if scene.subject:
        pixels = np.clip(base * shade, 0, 255).astype(np.uint8)
    else:
        pixels = np.full((height, width, 3), 90, dtype=np.uint8)
    image = Image.fromarray(pixels, mode="RGB")
    draw = ImageDraw.Draw(image)
    if scene.subject:
        cx, cy = width * (0.3 + 0.1 * rng.random()), height * (0.35 + 0.1 * rng.random())
        rx, ry = width * 0.08, height * 0.07
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(140, 70, 60))
        draw.ellipse((cx - rx / 2, cy - ry / 3, cx + rx / 3, cy + ry / 2), fill=(170, 90, 80))
        # A printed measuring scale, as clinics put next to wounds.
        sx, sy, step = width * 0.08, height * 0.85, max(2, width // 100)
        draw.rectangle((sx, sy, sx + step * 20, sy + step * 2), fill=(250, 250, 245))
        for i in range(21):
            tick = step * (1.2 if i % 5 == 0 else 0.7)
            draw.line((sx + i * step, sy, sx + i * step, sy + tick), fill=(20, 20, 20))
    return image


def _paste_symbol(image: Image.Image, symbol: Symbol) -> None:
    code = render_symbol(symbol)
    pad = max(4, symbol.module_px * 2)
    band = Image.new("L", (code.width + 2 * pad, code.height + 2 * pad), 255)
    band.paste(code, (pad, pad))
    if symbol.angle:
        band = band.rotate(symbol.angle, expand=True, fillcolor=0, resample=Image.BILINEAR)
        mask = Image.new("L", (code.width + 2 * pad, code.height + 2 * pad), 255).rotate(
            symbol.angle, expand=True, fillcolor=0
        )
    else:
        mask = None
    cx, cy = symbol.center
    left = int(cx * image.width - band.width / 2)
    top = int(cy * image.height - band.height / 2)
    image.paste(band.convert("RGB"), (left, top), mask)


class FakeCamera:
    """A :class:`~capture.camera.Camera` that shows a :class:`Scene`.

    ``set_scene`` changes what is in view (thread-safe: the reader loop and the workflow run on
    different threads). ``fail`` makes the next operations raise :class:`CameraError`, to test
    the camera-fault path.
    """

    def __init__(
        self,
        scene: Scene = EMPTY,
        still_size: tuple[int, int] = (4056, 3040),
        lores_size: tuple[int, int] = (640, 480),
        jpeg_quality: int = 90,
        has_autofocus: bool = False,
    ) -> None:
        self.still_size = still_size
        self.lores_size = lores_size
        self.jpeg_quality = jpeg_quality
        self.has_autofocus = has_autofocus
        self.fail: Exception | None = None
        self.started = False
        self.stills_taken = 0
        self._lock = threading.RLock()  # capture_still holds it across capture_jpeg
        self._scene = scene
        self._still: Image.Image | None = None
        self._jpeg: bytes | None = None
        self._luma: np.ndarray | None = None
        # Recently shown scenes keep their renders, so switching back and forth (wristband,
        # card, subject) costs nothing after the first time.
        self._cache: dict[Scene, tuple[Any, Any, Any]] = {}
        self._previews: dict[Scene, bytes] = {}

    # -- scene ---------------------------------------------------------------------------
    @property
    def scene(self) -> Scene:
        return self._scene

    def set_scene(self, scene: Scene) -> None:
        with self._lock:
            if scene == self._scene:
                return
            if self._still is not None:
                self._cache[self._scene] = (self._still, self._jpeg, self._luma)
                while len(self._cache) > SCENE_CACHE:
                    self._cache.pop(next(iter(self._cache)))
            self._scene = scene
            self._still, self._jpeg, self._luma = self._cache.pop(scene, (None, None, None))

    def prepare(self, *scenes: Scene) -> None:
        """Render ``scenes`` ahead of time (benchmarks: measure the station, not the fake)."""
        current = self._scene
        for scene in scenes:
            self.set_scene(scene)
            with self._lock:
                self._render()
                self._still_jpeg()
                self._lores()
        self.set_scene(current)

    def _render(self) -> Image.Image:
        if self._still is None:
            self._still = render_scene(self._scene, self.still_size)
        return self._still

    # -- Camera protocol -----------------------------------------------------------------
    def start(self) -> None:
        self._check()
        self.started = True

    def _lores(self) -> np.ndarray:
        if self._luma is None:
            lores = self._render().resize(self.lores_size, Image.BILINEAR).convert("L")
            self._luma = np.asarray(lores).copy()
            self._luma.setflags(write=False)
        return self._luma

    def _still_jpeg(self) -> bytes:
        if self._jpeg is None:
            buf = io.BytesIO()
            self._render().save(buf, format="JPEG", quality=self.jpeg_quality)
            self._jpeg = buf.getvalue()
        return self._jpeg

    def preview_luma(self) -> np.ndarray:
        self._check_running()
        with self._lock:
            return self._lores()

    def main_luma_crop(self, box: Box) -> np.ndarray | None:
        """The rendered still's luma for ``box`` (preview pixels): the scene the preview shows,
        at the still's resolution, reduced like the real camera's crop."""
        self._check_running()
        with self._lock:
            region = main_box(box, self.lores_size, self.still_size)
            if region is None:
                return None
            crop = self._render().crop(region).convert("L")
            return np.asarray(crop.reduce(crop_factor(self.lores_size, self.still_size)))

    def capture_jpeg(self) -> bytes:
        self._check_running()
        with self._lock:
            jpeg = self._still_jpeg()
            self.stills_taken += 1
            return _with_comment(jpeg, f"fake-camera frame {self.stills_taken}")

    def capture_still(self) -> Still:
        """The still and, from the same scene, its preview: the scene's render scaled down
        (like the lores stream) once per scene and kept, so it costs nothing per press."""
        with self._lock:
            jpeg = self.capture_jpeg()  # through the method, so subclasses see every still
            preview = self._previews.get(self._scene)
            if preview is None:
                preview = self._previews[self._scene] = encode_preview(self._render())
                while len(self._previews) > SCENE_CACHE + 1:
                    self._previews.pop(next(iter(self._previews)))
            return Still(jpeg, preview)

    def close(self) -> None:
        self.started = False

    def __enter__(self) -> FakeCamera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self.fail is not None:
            raise CameraError(f"fake camera fault: {self.fail}")

    def _check_running(self) -> None:
        self._check()
        if not self.started:
            raise CameraError("camera not started")


def _with_comment(jpeg: bytes, text: str) -> bytes:
    """Insert a COM segment after SOI, so every still is a distinct, valid JPEG."""
    body = text.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]
