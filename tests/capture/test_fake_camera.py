import io

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from capture.camera import Camera, CameraError
from capture.fake import FakeCamera, Scene, Symbol, render_scene


def test_fake_camera_is_a_camera():
    assert isinstance(FakeCamera(), Camera)


def test_preview_is_luma_plane_of_lores_size():
    with FakeCamera(lores_size=(640, 480), still_size=(1280, 960)) as cam:
        luma = cam.preview_luma()
    assert luma.shape == (480, 640)
    assert luma.dtype == np.uint8


@pytest.mark.parametrize("symbology", ["code128", "qrcode", "datamatrix", "pdf417"])
def test_barcode_in_view_is_real_and_readable(symbology):
    scene = Scene(symbols=(Symbol(symbology, "MRN-0042", module_px=6),))
    with FakeCamera(scene, still_size=(1920, 1080), lores_size=(1920, 1080)) as cam:
        results = zxingcpp.read_barcodes(cam.preview_luma())
    assert [r.text for r in results] == ["MRN-0042"]


def test_empty_scene_has_no_barcode():
    with FakeCamera(still_size=(1280, 960)) as cam:
        assert zxingcpp.read_barcodes(cam.preview_luma()) == []


def test_rendering_is_deterministic():
    scene = Scene(symbols=(Symbol("qrcode", "x"),), noise=4, blur=0.5)
    a = np.asarray(render_scene(scene, (320, 240)))
    b = np.asarray(render_scene(scene, (320, 240)))
    assert np.array_equal(a, b)
    other = np.asarray(render_scene(Scene(symbols=(Symbol("qrcode", "y"),)), (320, 240)))
    assert not np.array_equal(a, other)


def test_still_is_a_full_size_jpeg_and_each_is_distinct():
    with FakeCamera(still_size=(1024, 768)) as cam:
        first, second = cam.capture_jpeg(), cam.capture_jpeg()
    assert first[:2] == b"\xff\xd8"
    assert first != second
    image = Image.open(io.BytesIO(second))
    assert image.size == (1024, 768)
    assert image.format == "JPEG"


def test_scene_change_changes_the_preview():
    with FakeCamera(still_size=(800, 600)) as cam:
        assert zxingcpp.read_barcodes(cam.preview_luma()) == []
        cam.set_scene(Scene(symbols=(Symbol("datamatrix", "ABC", module_px=8),)))
        assert [r.text for r in zxingcpp.read_barcodes(cam.preview_luma())] == ["ABC"]


def test_fault_injection_and_not_started():
    cam = FakeCamera(still_size=(320, 240))
    with pytest.raises(CameraError, match="not started"):
        cam.capture_jpeg()
    cam.start()
    cam.fail = OSError("sensor timeout")
    with pytest.raises(CameraError, match="sensor timeout"):
        cam.preview_luma()


def test_unknown_symbology_is_refused():
    with pytest.raises(ValueError, match="unsupported symbology"):
        render_scene(Scene(symbols=(Symbol("ean13", "1"),)), (100, 100))


def test_switching_back_to_a_scene_reuses_its_render(monkeypatch):
    import capture.fake as fake

    calls = []
    real = fake.render_scene
    monkeypatch.setattr(fake, "render_scene", lambda *a: calls.append(1) or real(*a))
    band = Scene(symbols=(Symbol("qrcode", "band", module_px=6),))
    card = Scene(symbols=(Symbol("qrcode", "card", module_px=6),))
    with FakeCamera(band, still_size=(640, 480), lores_size=(640, 480)) as cam:
        cam.prepare(band, card)
        assert len(calls) == 2
        for scene, text in ((card, "card"), (band, "band"), (card, "card")):
            cam.set_scene(scene)
            assert [r.text for r in zxingcpp.read_barcodes(cam.preview_luma())] == [text]
        assert len(calls) == 2


def test_page_scene_puts_the_page_where_its_corners_say():
    from capture.fake_page import PageScene, page_corners

    page = PageScene(tilt=30, tilt_axis=45, rotation=100)
    size = (1600, 1200)
    with FakeCamera(Scene(page=page), still_size=size) as cam:
        still = np.asarray(Image.open(io.BytesIO(cam.capture_jpeg())).convert("L")).astype(int)
    corners = page_corners(page, size)
    centre = corners.mean(axis=0)
    for corner in corners:
        inside = np.round(corner + 0.04 * (centre - corner)).astype(int)
        outside = np.round(corner - 0.04 * (centre - corner)).astype(int)
        assert still[inside[1], inside[0]] > still[outside[1], outside[0]] + 40
    # Sideways (rotation 100): the printed top-left corner is on the photo's right.
    assert corners[0][0] > centre[0]


def test_page_scene_prints_a_readable_qr_code_and_is_deterministic():
    from capture.fake_page import PageScene

    scene = Scene(page=PageScene(tilt=0, rotation=0, qr="FORM-7", shadow=False))
    with FakeCamera(scene, still_size=(2028, 1520), lores_size=(2028, 1520)) as cam:
        assert [r.text for r in zxingcpp.read_barcodes(cam.preview_luma())] == ["FORM-7"]
    a = np.asarray(render_scene(scene, (400, 300)))
    assert np.array_equal(a, np.asarray(render_scene(scene, (400, 300))))
    dim = Scene(page=PageScene(tilt=0, rotation=0, qr="FORM-7", shadow=False, light=0.3))
    assert np.asarray(render_scene(dim, (400, 300))).mean() < 0.5 * a.mean()


def _mean_rgb(jpeg, size=(32, 24)):
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB").resize(size), dtype=np.float32)


def test_still_comes_with_a_small_colour_preview_of_the_same_scene():
    with FakeCamera(still_size=(1024, 768)) as cam:
        still = cam.capture_still()
        grey = Scene(subject=False)
        cam.set_scene(grey)
        other = cam.capture_still()
    with Image.open(io.BytesIO(still.preview)) as preview:
        assert preview.format == "JPEG" and preview.size == (320, 240)
        assert not preview.getexif() and "comment" not in preview.info
    # The preview is the still, smaller: same colours at the same places (upright).
    assert np.abs(_mean_rgb(still.preview) - _mean_rgb(still.jpeg)).mean() < 4
    assert np.abs(_mean_rgb(other.preview) - 90).max() < 4  # the grey scene's preview
    assert Image.open(io.BytesIO(still.jpeg)).size == (1024, 768)


def test_capture_still_goes_through_capture_jpeg_and_renders_a_preview_once(monkeypatch):
    import capture.fake as fake

    class Recording(FakeCamera):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.stills = []

        def capture_jpeg(self):
            data = super().capture_jpeg()
            self.stills.append(data)
            return data

    encodes = []
    real = fake.encode_preview
    monkeypatch.setattr(fake, "encode_preview", lambda *a: encodes.append(1) or real(*a))
    with Recording(still_size=(640, 480)) as cam:
        first, second = cam.capture_still(), cam.capture_still()
    assert cam.stills == [first.jpeg, second.jpeg]
    assert first.jpeg != second.jpeg and first.preview == second.preview
    assert len(encodes) == 1


def test_full_resolution_crop_is_the_still_region_the_preview_box_shows():
    # A symbol too small to read in the preview (1.5 preview px per module) is read in the
    # crop of the same region from the still.
    scene = Scene(symbols=(Symbol("datamatrix", "MRN-0042", module_px=6, center=(0.5, 0.5)),))
    with FakeCamera(scene, still_size=(2560, 1920), lores_size=(640, 480)) as cam:
        assert zxingcpp.read_barcodes(cam.preview_luma()) == []
        crop = cam.main_luma_crop((260, 180, 380, 300))
        assert crop is not None and crop.dtype == np.uint8
        assert crop.shape == (480, 480)  # the still is 4x the preview: nearest to 3x is 4x
        assert [r.text for r in zxingcpp.read_barcodes(crop)] == ["MRN-0042"]
        corner = cam.main_luma_crop((0, 0, 60, 40))
        assert zxingcpp.read_barcodes(corner) == []  # elsewhere: no symbol
        assert cam.main_luma_crop((700, 500, 800, 600)) is None  # outside the frame
        cam.fail = RuntimeError("cable")
        with pytest.raises(CameraError):
            cam.main_luma_crop((0, 0, 10, 10))
