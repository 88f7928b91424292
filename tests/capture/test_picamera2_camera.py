"""The picamera2 adapter against a stand-in at the picamera2 API boundary.

The stand-in implements the calls the adapter makes (``global_camera_info``, ``Picamera2(n)``,
``create_still_configuration``, ``configure``, ``options``, ``start``, ``capture_array``
(``lores`` as a YUV420 buffer, ``main`` as the whole RGB888 frame),
``capture_request`` and the completed request's ``make_array``, ``save`` and ``release``,
``autofocus_cycle``, ``set_controls``, ``stop``, ``close``) with the shapes real picamera2
returns, and records how it was driven. Each request sees the next frame of a two-colour
scene, so a test can tell which request a still or a preview came from.
"""

import io
import sys
import types

import numpy as np
import pytest
from PIL import Image

from capture.camera import Camera, CameraError, CameraNotFoundError, Still
from capture.picamera2_camera import Picamera2Camera

#: (left half, right half) colours of successive frames.
FRAMES = [((200, 30, 40), (30, 60, 200)), ((40, 190, 60), (230, 220, 40))]
STRIDE_PAD = 64  # libcamera pads rows; padding bytes here are garbage, as they may be


def frame_image(index, size):
    """Frame ``index`` of the scene at ``size``: its left and right halves in two colours."""
    left, right = FRAMES[index % len(FRAMES)]
    width, height = size
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, width // 2, height))
    return image


def yuv420_buffer(image):
    """``image`` as libcamera lays out a YUV420 sYCC buffer, shaped as picamera2's make_array
    returns it: (height * 3/2, stride), Y plane then U and V at half size and half stride."""
    width, height = image.size
    stride = width + STRIDE_PAD
    y, u, v = (np.asarray(p) for p in image.convert("YCbCr").split())
    flat = np.full(stride * height * 3 // 2, 255, dtype=np.uint8)
    flat[:stride * height].reshape(height, stride)[:, :width] = y
    half = stride // 2 * height // 2
    for n, plane in enumerate((u, v)):
        chroma = flat[stride * height + n * half:stride * height + (n + 1) * half]
        chroma.reshape(height // 2, stride // 2)[:, :width // 2] = plane[::2, ::2]
    return flat.reshape(height * 3 // 2, stride)


class StandInRequest:
    """picamera2's CompletedRequest: ``make_array`` copies a stream out of the request's
    buffers, ``save`` encodes one through the helpers (``options["quality"]``), ``release``
    hands the buffers back, after which the request is unusable."""

    def __init__(self, picam, index):
        self.picam = picam
        self.index = index
        self.released = False

    def _stream(self, name):
        if self.released:
            raise AssertionError("request used after release")
        if self.picam.config.get(name) is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self.picam.config[name]

    def make_array(self, name):
        config = self._stream(name)
        image = frame_image(self.index, config["size"])
        if config["format"] == "YUV420":
            override = self.picam.lores_override
            return yuv420_buffer(image) if override is None else override
        return np.asarray(image)[:, :, ::-1].copy()  # RGB888 is B, G, R in memory

    def save(self, name, file_output, format=None, exif_data=None):
        config = self._stream(name)
        assert config["format"] == "RGB888" and format == "jpeg"
        frame_image(self.index, config["size"]).save(
            file_output, format="JPEG", quality=self.picam.options.get("quality", 90))
        self.picam.calls.append(f"save:{name}")

    def release(self):
        assert not self.released, "released twice"
        self.released = True
        self.picam.calls.append("release")


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
        self.requests = []
        self.lores_override = None
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
        self.calls.append(f"capture_array:{name}")
        if name == "main":  # the next frame, as RGB888 arrives: (height, width, 3), B G R
            image = frame_image(len(self.requests), self.config["main"]["size"])
            self.requests.append(None)
            return np.asarray(image)[:, :, ::-1].copy()
        assert name == "lores"
        width, height = self.config["lores"]["size"]
        stride = width + STRIDE_PAD
        yuv = np.zeros((height * 3 // 2, stride), dtype=np.uint8)
        yuv[:height, :width] = 200  # Y plane
        yuv[height:, :] = 17  # chroma
        return yuv

    def capture_request(self):
        request = StandInRequest(self, len(self.requests))
        self.requests.append(request)
        self.calls.append("capture_request")
        return request

    def autofocus_cycle(self):
        self.calls.append("autofocus_cycle")
        return True

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


def halves(jpeg):
    """The colours at the middle of the left and the right half of a JPEG."""
    with Image.open(io.BytesIO(jpeg)) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        return rgb.getpixel((width // 4, height // 2)), rgb.getpixel((3 * width // 4, height // 2))


def close_to(colour, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


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
        assert picam.calls.index("autofocus_cycle") < picam.calls.index("capture_request")
    assert Image.open(io.BytesIO(data)).size == (640, 480)


def test_still_and_preview_come_from_one_request(standin):
    with Picamera2Camera(still_size=(1024, 768), lores_size=(640, 480), jpeg_quality=95) as cam:
        stills = [cam.capture_still(), cam.capture_still()]
        picam = StandInPicamera2.instances[0]
    assert picam.calls.count("capture_request") == 2
    assert all(request.released for request in picam.requests if request is not None)
    for index, still in enumerate(stills):
        assert isinstance(still, Still)
        left, right = FRAMES[index]
        still_left, still_right = halves(still.jpeg)
        preview_left, preview_right = halves(still.preview)
        # The same frame's colours, on the same sides (upright, U and V not swapped).
        assert close_to(still_left, left) and close_to(still_right, right)
        assert close_to(preview_left, left) and close_to(preview_right, right)


def test_preview_is_small_and_bare(standin):
    with Picamera2Camera(still_size=(1024, 768), lores_size=(640, 480)) as cam:
        preview = cam.capture_still().preview
    with Image.open(io.BytesIO(preview)) as image:
        assert image.format == "JPEG"
        assert image.size == (320, 240)
        assert not image.getexif()
        assert "exif" not in image.info and "comment" not in image.info
    assert b"Exif" not in preview[:200]


def test_a_lores_frame_of_the_wrong_shape_gives_no_preview_but_the_still(standin):
    with Picamera2Camera(still_size=(640, 480), lores_size=(320, 240)) as cam:
        StandInPicamera2.instances[0].lores_override = np.zeros((100, 100), dtype=np.uint8)
        still = cam.capture_still()
    assert still.preview is None
    assert Image.open(io.BytesIO(still.jpeg)).size == (640, 480)


def test_no_autofocus_cycle_on_fixed_focus_camera(standin):
    StandInPicamera2.autofocus = False
    with Picamera2Camera(still_size=(640, 480)) as cam:
        cam.capture_still()
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

        StandInPicamera2.instances[0].capture_request = broken
        with pytest.raises(CameraError, match="dequeue timeout"):
            cam.capture_still()


def test_failed_encode_still_releases_the_request(standin):
    with Picamera2Camera(still_size=(640, 480)) as cam:
        picam = StandInPicamera2.instances[0]
        picam.options["quality"] = "not a number"  # the JPEG encoder raises
        with pytest.raises(CameraError, match="still capture failed"):
            cam.capture_still()
        assert picam.requests[0].released  # the buffers went back to the camera


def test_use_before_start_is_refused():
    with pytest.raises(CameraError, match="not started"):
        Picamera2Camera().preview_luma()
    with pytest.raises(CameraError, match="not started"):
        Picamera2Camera().capture_still()


def test_full_resolution_crop_is_the_main_frames_luma_for_a_lores_box(standin):
    with Picamera2Camera(still_size=(1920, 1440), lores_size=(640, 480)) as cam:
        # Straddling the middle: the left colour, then the right one.
        crop = cam.main_luma_crop((300, 100, 340, 120))
        picam = StandInPicamera2.instances[0]
        assert picam.calls[-1] == "capture_array:main"
        assert cam.main_luma_crop((700, 0, 800, 10)) is None  # outside the frame
    assert crop.dtype == np.uint8
    assert crop.shape == (60, 120)  # 3x the lores box: the main stream's own pixels
    left, right = FRAMES[0]
    y = {c: Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0)) for c in (left, right)}
    assert abs(int(crop[30, 10]) - y[left]) <= 2 and abs(int(crop[30, 110]) - y[right]) <= 2
    assert crop[:, :58].std() < 1 and crop[:, 62:].std() < 1  # the edge in the middle


def test_full_resolution_crop_of_a_large_sensor_is_reduced(standin):
    with Picamera2Camera(still_size=(4056, 3040), lores_size=(640, 480)) as cam:
        crop = cam.main_luma_crop((0, 0, 64, 48))
    assert crop.shape == (152, 203)  # 64x48 lores px are 406x304 main px, reduced by 2


def test_full_resolution_crop_failure_is_a_camera_error(standin):
    with Picamera2Camera(still_size=(1280, 960)) as cam:
        def broken(name="main"):
            raise RuntimeError("dequeue timeout")

        StandInPicamera2.instances[0].capture_array = broken
        with pytest.raises(CameraError, match="full-resolution"):
            cam.main_luma_crop((0, 0, 10, 10))
