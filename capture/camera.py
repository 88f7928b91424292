"""The camera seam: what the station needs from any camera, and nothing more.

Two streams, like picamera2's: a small ``lores`` preview whose luminance (Y) plane is scanned
for barcodes many times a second, and a full-resolution still encoded to JPEG *in memory*, so
the image can be sealed before anything touches the disk. A still comes with a small colour
preview made from the lores frame of the *same* request (:class:`Still`), so nobody has to
decode the full-resolution JPEG again to show it for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

Box = tuple[int, int, int, int]  # left, top, right, bottom (pixels)

#: A full-resolution crop is reduced to about this many of its pixels per preview pixel:
#: 3 gives a band at arm's length (1.3 preview pixels per module) about 4 pixels per module,
#: plenty for the decoders, while a 4056x3040 sensor's 6x would cost four times the decode.
CROP_MAX_SCALE = 3


def main_box(box: Box, lores_size: tuple[int, int], main_size: tuple[int, int]) -> Box | None:
    """``box`` in preview pixels scaled to the main stream and clipped to it (None: empty)."""
    sx, sy = main_size[0] / lores_size[0], main_size[1] / lores_size[1]
    left, top = max(0, int(box[0] * sx)), max(0, int(box[1] * sy))
    right, bottom = min(main_size[0], round(box[2] * sx)), min(main_size[1], round(box[3] * sy))
    if right - left < 1 or bottom - top < 1:
        return None
    return left, top, right, bottom


def crop_factor(lores_size: tuple[int, int], main_size: tuple[int, int]) -> int:
    """The integer reduction that brings a main-stream crop to about
    :data:`CROP_MAX_SCALE` pixels per preview pixel (1: keep every pixel)."""
    scale = min(main_size[0] / lores_size[0], main_size[1] / lores_size[1])
    return max(1, round(scale / CROP_MAX_SCALE))


class CameraError(RuntimeError):
    """The camera failed; the workflow shows the camera-fault signal."""


class CameraNotFoundError(CameraError):
    """No camera is attached (or its driver is missing)."""


@dataclass(frozen=True)
class Still:
    """One full-resolution still and its review preview, taken at the same moment.

    ``preview`` is a small JPEG (at most :data:`~capture.preview.PREVIEW_MAX_SIDE` pixels on
    its longer side, upright, no metadata), or None when the camera could not make one: then
    whoever needs a preview makes it from ``jpeg``.
    """

    jpeg: bytes
    preview: bytes | None = None


@runtime_checkable
class Camera(Protocol):
    """Implemented by :class:`~capture.fake.FakeCamera` and
    :class:`~capture.picamera2_camera.Picamera2Camera`."""

    #: True when :meth:`capture_still` and :meth:`capture_jpeg` run a focus cycle first.
    has_autofocus: bool

    def start(self) -> None:
        """Open the device and start streaming; idempotent."""

    def preview_luma(self) -> np.ndarray:
        """The newest preview frame's Y plane: a 2-D ``uint8`` array (height, width)."""

    def main_luma_crop(self, box: Box) -> np.ndarray | None:
        """The full-resolution stream's Y plane for ``box`` (left, top, right, bottom) given
        in preview pixels, at about :data:`CROP_MAX_SCALE` times the preview's resolution; None
        when there is none right now. The barcode reader asks for it only where a preview
        frame shows a symbol it cannot decode, so its cost is paid on hard frames alone."""

    def capture_still(self) -> Still:
        """A full-resolution still, JPEG-encoded in memory, with its preview."""

    def capture_jpeg(self) -> bytes:
        """A full-resolution still, JPEG-encoded in memory (no preview wanted)."""

    def close(self) -> None:
        """Stop streaming and release the device; idempotent."""
