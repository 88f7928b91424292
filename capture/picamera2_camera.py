"""The Raspberry Pi camera through picamera2, imported only when this camera is used.

picamera2 needs libcamera's Python bindings, which exist only on Raspberry Pi OS (apt
``python3-picamera2``), so importing this module never imports picamera2; :meth:`start` does.
One still configuration carries two streams: ``main`` (full-resolution RGB, encoded to JPEG in
memory on capture) and ``lores`` (YUV420, whose first ``height`` rows are the Y plane the
barcode reader wants, with no colour conversion). A still is one ``capture_request()``: its
``main`` buffer is encoded to the JPEG and its ``lores`` buffer, the same moment at 640x480,
becomes the review preview.
"""

from __future__ import annotations

import importlib
import io
import logging
import threading
from typing import Any

import numpy as np
from PIL import Image

from .camera import Box, CameraError, CameraNotFoundError, Still, crop_factor, main_box
from .preview import yuv420_preview

log = logging.getLogger("capture_station.camera")


def _import_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        raise CameraNotFoundError(
            "picamera2 is not installed: on Raspberry Pi OS run `apt install python3-picamera2` "
            "and create the venv with --system-site-packages (or set [camera] backend = 'fake')"
        ) from exc


class Picamera2Camera:
    """A :class:`~capture.camera.Camera` over picamera2.

    ``module`` replaces the ``picamera2`` module (tests pass a stand-in at the API boundary).
    """

    def __init__(
        self,
        still_size: tuple[int, int] = (4056, 3040),
        lores_size: tuple[int, int] = (640, 480),
        jpeg_quality: int = 90,
        autofocus: bool = True,
        camera_num: int = 0,
        module: Any = None,
    ) -> None:
        self.still_size = still_size
        self.lores_size = lores_size
        self.jpeg_quality = jpeg_quality
        self.autofocus = autofocus
        self.camera_num = camera_num
        self.has_autofocus = False
        self._module = module
        self._cam: Any = None
        self._lock = threading.Lock()

    @property
    def is_started(self) -> bool:
        return self._cam is not None

    def start(self) -> None:
        if self._cam is not None:
            return
        module = self._module or _import_picamera2()
        picam_cls = module.Picamera2
        try:
            cameras = picam_cls.global_camera_info()
        except Exception as exc:
            raise CameraNotFoundError(f"cannot enumerate cameras: {exc}") from exc
        if len(cameras) <= self.camera_num:
            raise CameraNotFoundError(
                "no camera detected: check the ribbon cable and `rpicam-hello --list-cameras`"
            )
        try:
            cam = picam_cls(self.camera_num)
            config = cam.create_still_configuration(
                main={"size": self.still_size, "format": "RGB888"},
                lores={"size": self.lores_size, "format": "YUV420"},
                buffer_count=2,
            )
            cam.configure(config)
            cam.options["quality"] = self.jpeg_quality
            cam.start()
        except Exception as exc:
            raise CameraError(f"camera failed to start: {exc}") from exc
        self.has_autofocus = "AfMode" in getattr(cam, "camera_controls", {})
        if self.has_autofocus and self.autofocus:
            # Continuous AF keeps wristbands sharp while scanning; a cycle precedes each still.
            cam.set_controls({"AfMode": 2})
        self._cam = cam

    def _require(self) -> Any:
        if self._cam is None:
            raise CameraError("camera not started")
        return self._cam

    def preview_luma(self) -> np.ndarray:
        cam = self._require()
        width, height = self.lores_size
        with self._lock:
            try:
                yuv = cam.capture_array("lores")
            except Exception as exc:
                raise CameraError(f"preview capture failed: {exc}") from exc
        # YUV420 arrives as (height * 3/2, stride); the Y plane is the top `height` rows, and
        # the stride may exceed the width.
        return np.asarray(yuv)[:height, :width]

    def main_luma_crop(self, box: Box) -> np.ndarray | None:
        """The ``main`` stream's luma for ``box`` (lores pixels), from the newest main frame
        (``capture_array("main")``: at most a frame after the lores frame the box came from;
        the reader's consecutive-read and conflict rules still judge what it finds there).

        ``main`` is RGB888 (B, G, R in memory); the crop is weighted to BT.601 luma and
        reduced to about :data:`~capture.camera.CROP_MAX_SCALE` pixels per lores pixel.
        A failed capture is a :class:`CameraError`, like any other."""
        cam = self._require()
        region = main_box(box, self.lores_size, self.still_size)
        if region is None:
            return None
        left, top, right, bottom = region
        with self._lock:
            try:
                main = cam.capture_array("main")
            except Exception as exc:
                raise CameraError(f"full-resolution capture failed: {exc}") from exc
        bgr = np.asarray(main)[top:bottom, left:right, :3].astype(np.uint16)
        luma = ((29 * bgr[..., 0] + 150 * bgr[..., 1] + 77 * bgr[..., 2] + 128) >> 8)
        image = Image.fromarray(luma.astype(np.uint8))
        return np.asarray(image.reduce(crop_factor(self.lores_size, self.still_size)))

    def capture_still(self) -> Still:
        cam = self._require()
        buf = io.BytesIO()
        with self._lock:
            try:
                if self.has_autofocus and self.autofocus:
                    if not cam.autofocus_cycle():
                        # An unfocused photo is still better than none; the reviewer decides.
                        pass
                request = cam.capture_request()
                try:
                    # make_array copies out of the buffer, so the frame outlives the request.
                    lores = request.make_array("lores")
                    request.save("main", buf, format="jpeg")
                finally:
                    request.release()  # the buffers go back to the camera at once
            except Exception as exc:
                raise CameraError(f"still capture failed: {exc}") from exc
        data = buf.getvalue()
        if not data.startswith(b"\xff\xd8"):
            raise CameraError("camera returned something that is not a JPEG")
        return Still(data, self._preview(lores))

    def _preview(self, lores: Any) -> bytes | None:
        """The preview from the request's lores frame; None (the vault decodes the still
        instead) if the frame is not what the configuration promised."""
        try:
            return yuv420_preview(np.asarray(lores), self.lores_size)
        except (ValueError, OSError) as exc:
            log.warning("no preview from the lores frame: %s", exc)
            return None

    def capture_jpeg(self) -> bytes:
        return self.capture_still().jpeg

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        finally:
            cam.close()

    def __enter__(self) -> Picamera2Camera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
