"""The picamera2 adapter against a stand-in at the picamera2 API boundary.

The stand-in implements the calls the adapter makes (``global_camera_info``, ``Picamera2(n)``,
``create_still_configuration``, ``configure``, ``options``, ``start``, ``capture_array``,
``capture_file``, ``autofocus_cycle``, ``set_controls``, ``stop``, ``close``) with the shapes
real picamera2 returns, and records how it was driven.
"""

import io
import sys
import types

import numpy as np
import pytest
from PIL import Image

from capture.camera import Camera, CameraError, CameraNotFoundError
from capture.picamera2_camera import Picamera2Camera


class StandInPicamera2:
    cameras: list = [{"Model": "imx708", "Num": 0}]
    autofocus = True
    instances: list = []

    def __init__(self, camera_num=0):
        self.camera_num = camera_num
        self.options = {}
        self.calls = []
        self.config = None
        self.controls = {}
        self.camera_controls = {"ExposureTime": (1, 100, 10)}
        if self.autofocus:
            self.camera_controls["AfMode"] = (0, 2, 0)
        StandInPicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls):
        return list(cls.cameras)

    def create_still_configuration(self, main=None, lores=None, buffer_count=1):
        return {"main": main, "lores": lores, "buffer_count": buffer_count}

    def configure(self, config):
        self.config = config

    def start(self):
        self.calls.append("start")

    def set_controls(self, controls):
        self.controls.update(controls)

    def capture_array(self, name="main"):
        assert name == "lores"
        width, height = self.config["lores"]["size"]
        stride = width + 64  # libcamera pads rows
        yuv = np.zeros((height * 3 // 2, stride), dtype=np.uint8)
        yuv[:height, :width] = 200  # Y plane
        yuv[height:, :] = 17  # chroma
        return yuv

    def autofocus_cycle(self):
        self.calls.append("autofocus_cycle")
        return True

    def capture_file(self, file_output, name="main", format=None):
        assert format == "jpeg" and name == "main"
        width, height = self.config["main"]["size"]
        Image.new("RGB", (width, height), (10, 20, 30)).save(
            file_output, format="JPEG", quality=self.options.get("quality", 90))
        self.calls.append("capture_file")

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


@pytest.fixture
def standin(monkeypatch):
    module = types.ModuleType("picamera2")
    StandInPicamera2.instances = []
    StandInPicamera2.cameras = [{"Model": "imx708", "Num": 0}]
    StandInPicamera2.autofocus = True
    module.Picamera2 = StandInPicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return module


def test_module_import_does_not_import_picamera2():
    assert "picamera2" not in sys.modules or not hasattr(sys.modules["picamera2"], "__file__")


def test_configures_main_and_lores_streams(standin):
    with Picamera2Camera(still_size=(4056, 3040), lores_size=(640, 480), jpeg_quality=85) as cam:
        assert isinstance(cam, Camera)
        picam = StandInPicamera2.instances[0]
        assert picam.config["main"] == {"size": (4056, 3040), "format": "RGB888"}
        assert picam.config["lores"] == {"size": (640, 480), "format": "YUV420"}
        assert picam.options["quality"] == 85
    assert picam.calls[-2:] == ["stop", "close"]


def test_preview_is_the_y_plane_without_stride_padding(standin):
    with Picamera2Camera(lores_size=(320, 240), still_size=(640, 480)) as cam:
        luma = cam.preview_luma()
    assert luma.shape == (240, 320)
    assert (luma == 200).all()


def test_still_runs_autofocus_then_returns_jpeg_bytes(standin):
    with Picamera2Camera(still_size=(640, 480)) as cam:
        data = cam.capture_jpeg()
        picam = StandInPicamera2.instances[0]
        assert cam.has_autofocus
        assert picam.controls["AfMode"] == 2
        assert picam.calls.index("autofocus_cycle") < picam.calls.index("capture_file")
    assert Image.open(io.BytesIO(data)).size == (640, 480)


def test_no_autofocus_cycle_on_fixed_focus_camera(standin):
    StandInPicamera2.autofocus = False
    with Picamera2Camera(still_size=(640, 480)) as cam:
        cam.capture_jpeg()
        assert not cam.has_autofocus
        assert "autofocus_cycle" not in StandInPicamera2.instances[0].calls


def test_no_camera_is_a_clear_error(standin):
    StandInPicamera2.cameras = []
    with pytest.raises(CameraNotFoundError, match="no camera detected"):
        Picamera2Camera().start()


def test_missing_picamera2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    with pytest.raises(CameraNotFoundError, match="python3-picamera2"):
        Picamera2Camera().start()


def test_capture_failure_becomes_camera_error(standin):
    with Picamera2Camera(still_size=(640, 480)) as cam:
        def broken(*args, **kwargs):
            raise RuntimeError("dequeue timeout")

        StandInPicamera2.instances[0].capture_file = broken
        with pytest.raises(CameraError, match="dequeue timeout"):
            cam.capture_jpeg()


def test_use_before_start_is_refused():
    with pytest.raises(CameraError, match="not started"):
        Picamera2Camera().preview_luma()
