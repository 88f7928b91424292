"""Decoder backends behind one seam: a frame in, :class:`~barcode.symbols.SymbolRead` out.

zxing-cpp is the default: it reads every symbology the station supports, reports the GS1 flag
and the symbology identifier, and is several times faster than zbar. pyzbar (zbar) is the
fallback: Code 128 and QR only, and it drops the GS1 flag, so GS1 content is recognised later
from its AI structure. Both are restricted to the configured formats, which is also what makes
them fast. Frames are the lores Y plane (a 2-D ``uint8`` array) or a PIL image.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from PIL import Image

from .errors import BarcodeConfigError, BarcodeError
from .symbols import SYMBOLOGIES, SymbolRead

BACKENDS = ("zxing-cpp", "pyzbar")

_ZXING_NAMES = {"code128": "Code128", "qrcode": "QRCode", "datamatrix": "DataMatrix",
                "pdf417": "PDF417"}
_ZBAR_NAMES = {"code128": "CODE128", "qrcode": "QRCODE"}
#: Symbology identifiers that carry the GS1 flag (Code 128 ]C1, DataMatrix ]d2, QR ]Q3 ...).
_GS1_IDS = frozenset({"]C1", "]d2", "]Q3", "]J1", "]e0"})


class BackendUnavailableError(BarcodeError, RuntimeError):
    """The decoder library (or its shared library) is not installed."""


class FrameError(BarcodeError, ValueError):
    """The frame is not a 2-D uint8 array or an image."""


class Backend(Protocol):
    """A decoder restricted to some symbologies."""

    name: str
    formats: tuple[str, ...]

    def decode(self, frame: Any) -> list[SymbolRead]:
        """Every symbol of the configured formats in ``frame``."""


def as_luma(frame: Any) -> np.ndarray:
    """``frame`` as a 2-D uint8 array with adjacent pixels (a PIL image is converted to
    ``L``). Rows may be further apart than the width, as in picamera2's Y plane: both decoders
    take such a view as it is, so it is not copied; any other layout is."""
    if isinstance(frame, np.ndarray):
        if frame.ndim != 2 or frame.dtype != np.uint8:
            raise FrameError(
                f"expected a 2-D uint8 luma plane, got {frame.ndim}-D {frame.dtype}"
            )
        rows, pixels = frame.strides
        if pixels == 1 and rows >= frame.shape[1]:
            return frame
        return np.ascontiguousarray(frame)
    if isinstance(frame, Image.Image):
        return np.asarray(frame if frame.mode == "L" else frame.convert("L"))
    raise FrameError(f"expected a numpy array or a PIL image, got {type(frame).__name__}")


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    unknown = [f for f in formats if f not in SYMBOLOGIES]
    if unknown:
        raise BarcodeConfigError(
            f"unknown symbologies {unknown}; expected some of {list(SYMBOLOGIES)}")
    if not formats:
        raise BarcodeConfigError("no symbologies to read")
    return tuple(dict.fromkeys(formats))


class ZxingBackend:
    """zxing-cpp, reading in ``TextMode.Plain``: the GS1 element string with GS separators."""

    name = "zxing-cpp"

    def __init__(self, formats: Sequence[str] = SYMBOLOGIES) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise BackendUnavailableError(f"zxing-cpp is not installed ({exc})") from None
        self._zx = zxingcpp
        self.formats = _check_formats(formats)
        self._format_names = {getattr(zxingcpp.BarcodeFormat, _ZXING_NAMES[f]): f
                              for f in self.formats}
        self._wanted = zxingcpp.BarcodeFormats(tuple(self._format_names))
        self.read_options = {"formats": self._wanted, "text_mode": zxingcpp.TextMode.Plain}
        self._gs1_content = zxingcpp.ContentType.GS1

    def with_binarizer(self, binarizer: str) -> ZxingBackend:
        """The same reader with another binariser: ``"global"`` (one histogram threshold for
        the whole image, better in dim frames and under glare), ``"fixed"`` (mid-grey, for a
        region already stretched to its own levels) or ``"local"`` (the default)."""
        names = {"global": self._zx.Binarizer.GlobalHistogram,
                 "local": self._zx.Binarizer.LocalAverage,
                 "fixed": self._zx.Binarizer.FixedThreshold}
        if binarizer not in names:
            raise BarcodeConfigError(f"binarizer must be one of {sorted(names)}")
        other = ZxingBackend(self.formats)
        other.read_options = {**self.read_options, "binarizer": names[binarizer]}
        return other

    def decode(self, frame: Any) -> list[SymbolRead]:
        return self._read(frame, None)

    def decode_seen(self, frame: Any) -> tuple[list[SymbolRead], list[tuple[int, int, int, int]]]:
        """The symbols decoded, and the boxes of symbols found but not decoded (a checksum or
        format error): where a closer look is most likely to pay."""
        seen: list[tuple[int, int, int, int]] = []
        return self._read(frame, seen), seen

    def _read(self, frame: Any, seen: list[tuple[int, int, int, int]] | None
              ) -> list[SymbolRead]:
        """Decoded symbols; with ``seen``, zxing also reports what it found but could not
        decode, and their boxes go there (one plain loop: this runs on every frame)."""
        decoded = []
        names = self._format_names
        for barcode in self._zx.read_barcodes(as_luma(frame), return_errors=seen is not None,
                                              **self.read_options):
            symbology = names.get(barcode.format)
            if symbology is None:
                continue
            if not barcode.valid:
                if seen is not None:
                    seen.append(_box_of(barcode.position))
                continue
            try:
                text = barcode.text
            except UnicodeDecodeError:  # never seen: zxing-cpp hands over UTF-8; be safe
                text = bytes(barcode.bytes).decode("latin-1")
            sid = barcode.symbology_identifier or None
            gs1 = sid in _GS1_IDS or barcode.content_type == self._gs1_content
            decoded.append(SymbolRead(symbology, text, gs1, self.name, sid,
                                      _box_of(barcode.position)))
        return decoded


def _box_of(position: Any) -> tuple[int, int, int, int]:
    points = [position.top_left, position.top_right, position.bottom_right, position.bottom_left]
    xs, ys = [p.x for p in points], [p.y for p in points]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


class PyzbarBackend:
    """zbar through pyzbar: Code 128 and QR only; the GS1 flag is unknown (None)."""

    name = "pyzbar"

    def __init__(self, formats: Sequence[str] = ("code128", "qrcode")) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:
            raise BackendUnavailableError(
                f"pyzbar or the zbar library (apt libzbar0) is missing ({exc})"
            ) from None
        wanted = [f for f in _check_formats(formats) if f in _ZBAR_NAMES]
        if not wanted:
            raise BackendUnavailableError("zbar reads only code128 and qrcode")
        self._decode = pyzbar.decode
        self.formats = tuple(wanted)
        self._symbols = [getattr(pyzbar.ZBarSymbol, _ZBAR_NAMES[f]) for f in wanted]
        self._names = {_ZBAR_NAMES[f]: f for f in wanted}

    def decode(self, frame: Any) -> list[SymbolRead]:
        luma = as_luma(frame)
        found = []
        for symbol in self._decode(luma, symbols=self._symbols):
            symbology = self._names.get(symbol.type)
            if symbology is None:
                continue
            try:
                text = symbol.data.decode("utf-8")
            except UnicodeDecodeError:
                text = symbol.data.decode("latin-1")
            left, top, width, height = symbol.rect
            found.append(SymbolRead(symbology, text, None, self.name, None,
                                    (left, top, left + width, top + height)))
        return found


def available(name: str) -> bool:
    """Whether backend ``name`` can be constructed here (library and shared library present)."""
    if name == "zxing-cpp":
        return importlib.util.find_spec("zxingcpp") is not None
    if name == "pyzbar":
        try:
            PyzbarBackend()
        except BackendUnavailableError:
            return False
        return True
    raise BarcodeConfigError(f"unknown backend {name!r}; expected one of {list(BACKENDS)}")


def make_backend(names: Sequence[str], formats: Sequence[str] = SYMBOLOGIES) -> Backend:
    """The first backend in ``names`` that is installed and can read one of ``formats``.

    Raises :class:`BackendUnavailableError` naming every reason when none can be used.
    """
    reasons = []
    for name in names:
        try:
            if name == "zxing-cpp":
                return ZxingBackend(formats)
            if name == "pyzbar":
                return PyzbarBackend(formats)
        except BackendUnavailableError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        raise BarcodeConfigError(f"unknown backend {name!r}; expected one of {list(BACKENDS)}")
    raise BackendUnavailableError("no barcode decoder available: " + "; ".join(reasons or
                                                                               ["none named"]))
