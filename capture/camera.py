"""The camera seam: what the station needs from any camera, and nothing more.

Two streams, like picamera2's: a small ``lores`` preview whose luminance (Y) plane is scanned
for barcodes many times a second, and a full-resolution still encoded to JPEG *in memory*, so
the image can be sealed before anything touches the disk.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


class CameraError(RuntimeError):
    """The camera failed; the workflow shows the camera-fault signal."""


class CameraNotFoundError(CameraError):
    """No camera is attached (or its driver is missing)."""


@runtime_checkable
class Camera(Protocol):
    """Implemented by :class:`~capture.fake.FakeCamera` and
    :class:`~capture.picamera2_camera.Picamera2Camera`."""

    #: True when :meth:`capture_jpeg` runs a focus cycle first.
    has_autofocus: bool

    def start(self) -> None:
        """Open the device and start streaming; idempotent."""

    def preview_luma(self) -> np.ndarray:
        """The newest preview frame's Y plane: a 2-D ``uint8`` array (height, width)."""

    def capture_jpeg(self) -> bytes:
        """A full-resolution still, JPEG-encoded in memory."""

    def close(self) -> None:
        """Stop streaming and release the device; idempotent."""
