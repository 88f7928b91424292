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

    def capture_still(self) -> Still:
        """A full-resolution still, JPEG-encoded in memory, with its preview."""

    def capture_jpeg(self) -> bytes:
        """A full-resolution still, JPEG-encoded in memory (no preview wanted)."""

    def close(self) -> None:
        """Stop streaming and release the device; idempotent."""
