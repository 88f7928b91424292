"""One photo of a page -> one clean, upright, straightened page, ready for a PDF.

The steps, each its own module: decode (greyscale only, when colour is not kept: libjpeg then
skips most of its work), find the page (:mod:`documents.detect`), measure its real shape
(:mod:`documents.aspect`), warp it once to its final size (:mod:`documents.rectify`), turn it
upright (:mod:`documents.orientation`) and clean it (:mod:`documents.enhance`). Nothing of the
photo is kept: a :class:`Page` holds only the straightened page, so a photo of the desk around
it (and whatever else lay there) never reaches the patient file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .aspect import measured_ratio, paper_shape
from .detect import find_page
from .encode import encode_page
from .enhance import Mode, enhance
from .errors import ImageUnreadableError
from .orientation import quarter_turns
from .quad import Quad
from .rectify import rectify

#: Output resolution: small handwriting stays legible, a text page stays small.
DEFAULT_DPI = 200.0
MM_PER_INCH = 25.4
#: Photos larger than this are refused before decoding (a 64 MP phone photo still passes).
MAX_PIXELS = 80_000_000


@dataclass(frozen=True, eq=False)
class Page:
    """A straightened page.

    ``image`` is ``uint8``: 2-D (black and white or grey) or BGR (sketch). ``size_mm`` is the
    paper's (width, height) as the page now stands; ``paper`` names a standard size when the
    page's shape matched one. ``quad`` is where the page lay in the photo, its printed
    top-left first; ``turns`` how many quarter turns clockwise it lay.
    """

    image: np.ndarray
    mode: Mode
    size_mm: tuple[float, float]
    paper: str | None
    dpi: float
    quad: Quad
    turns: int

    @cached_property
    def encoded(self) -> bytes:
        """The page's image file as the PDF embeds it (encoded once, then reused)."""
        return encode_page(self.image, self.mode, self.dpi)

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the page image in pixels."""
        return self.image.shape[1], self.image.shape[0]

    def kept(self) -> KeptPage:
        """What a document needs of this page until its PDF is made: the encoded image and
        its sizes (tens of kilobytes for a text page, not megabytes of pixels)."""
        return KeptPage(self.encoded, self.size_px, self.size_mm)


@dataclass(frozen=True)
class KeptPage:
    """A page waiting in memory for its document's PDF (see :meth:`Page.kept`)."""

    encoded: bytes
    size_px: tuple[int, int]
    size_mm: tuple[float, float]


def decode_photo(data: bytes, colour: bool) -> np.ndarray:
    """A photo file's pixels (EXIF orientation applied): BGR, or greyscale when ``colour``
    is false. The size is read from the header first, so an oversized image is refused
    before any memory is spent on it."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
        raise ImageUnreadableError("not an image file this station can read") from None
    if width * height > MAX_PIXELS:
        raise ImageUnreadableError("image is too large to process")
    buffer = np.frombuffer(data, dtype=np.uint8)
    flags = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
    try:
        image = cv2.imdecode(buffer, flags)
    except cv2.error:
        image = None
    if image is None:
        raise ImageUnreadableError("not an image file this station can read")
    return image


def scan_page(photo: bytes | np.ndarray, mode: Mode | str = Mode.TEXT, *,
              dpi: float = DEFAULT_DPI, focal_px: float | None = None) -> Page:
    """The page in ``photo`` (an encoded image, or a decoded BGR or greyscale array),
    straightened, upright and cleaned for ``mode``.

    ``focal_px`` is the camera's focal length in pixels at the photo's size, when known (the
    station knows its lens); otherwise it is estimated from the page's outline. Raises
    :class:`~documents.errors.PageNotFoundError` when no whole page is in view and
    :class:`~documents.errors.ImageUnreadableError` for bytes that are not an image.
    """
    mode = Mode(mode)
    colour = mode is Mode.SKETCH
    if isinstance(photo, bytes | bytearray | memoryview):
        image = decode_photo(bytes(photo), colour)
    else:
        image = np.asarray(photo)
        if not colour and image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    quad = find_page(grey)
    height, width = grey.shape[:2]
    shape = paper_shape(measured_ratio(quad, (width, height), focal_px))
    size_px = tuple(max(1, round(mm / MM_PER_INCH * dpi)) for mm in shape.size_mm)
    straight = rectify(image, quad, size_px)
    straight_grey = cv2.cvtColor(straight, cv2.COLOR_BGR2GRAY) if straight.ndim == 3 \
        else straight
    turns = quarter_turns(straight_grey)
    size_mm = shape.size_mm
    if turns:
        straight = np.ascontiguousarray(np.rot90(straight, turns))  # counter-clockwise
        if turns % 2:
            size_mm = (size_mm[1], size_mm[0])
    return Page(enhance(straight, mode), mode, size_mm, shape.name, dpi,
                quad.starting_at(turns), turns)
