"""The page pipeline on the generated corpus: where the corners are, which way is up, what
shape the page is, and which photos are refused."""

import numpy as np
import pytest

from documents import ImageUnreadableError, Mode, PageNotFoundError, scan_page
from documents.detect import NOT_FOUND, OFF_FRAME
from tests.documents.corpus import FOUND, REFUSED, TEST_SIZE, corner_error, still


@pytest.fixture(scope="module")
def scanned():
    return {case.name: scan_page(still(case)) for case in FOUND}


@pytest.mark.parametrize("case", FOUND, ids=lambda c: c.name)
def test_corners_are_found_in_the_page_s_own_order(case, scanned):
    page = scanned[case.name]
    # In the page's printed order: this checks the geometry and the orientation together.
    assert corner_error(page.quad.corners, case.corners()) < 0.002
    assert page.turns == case.turns


@pytest.mark.parametrize("case", FOUND, ids=lambda c: c.name)
def test_every_page_comes_out_as_upright_a4_at_200_dpi(case, scanned):
    page = scanned[case.name]
    assert page.paper == "a4"
    assert page.size_mm == (210.0, 297.0)
    assert page.image.shape == (2339, 1654)
    assert set(np.unique(page.image)) <= {0, 255}


def test_mean_corner_error_is_far_below_a_hundredth_of_the_diagonal(scanned):
    errors = [corner_error(scanned[c.name].quad.corners, c.corners()) for c in FOUND]
    assert np.mean(errors) < 0.001


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_a_page_partly_out_of_view_is_refused(case):
    with pytest.raises(PageNotFoundError) as caught:
        scan_page(still(case))
    assert str(caught.value) == OFF_FRAME


def test_a_photo_without_a_page_is_refused_as_such():
    from capture.fake import Scene, render_scene

    for scene in (Scene(), Scene(subject=False, noise=5)):
        photo = np.asarray(render_scene(scene, TEST_SIZE))[..., ::-1].copy()  # BGR
        with pytest.raises(PageNotFoundError, match="no page found") as caught:
            scan_page(photo)
        assert str(caught.value) == NOT_FOUND


def test_sketch_mode_keeps_colour_and_the_colours_stay_put():
    case = next(c for c in FOUND if c.name == "upside-down")
    page = scan_page(still(case), Mode.SKETCH)
    assert page.image.shape == (2339, 1654, 3)
    b, g, r = (page.image[..., i].astype(int) for i in range(3))
    red = (r > 150) & (g < 110) & (b < 110)
    green = (g > 100) & (r < 90) & (b < 120)
    assert red.sum() > 500 and green.sum() > 500
    # The drawing's red circle lies right of the figure, the green arrow further right: on an
    # upright page the green is right of the red.
    assert np.flatnonzero(green.any(axis=0)).mean() > np.flatnonzero(red.any(axis=0)).mean()
    # Paper is white after the light is evened out, shadow or not.
    assert np.median(page.image) == 255


def test_grey_mode_keeps_shades():
    page = scan_page(still(FOUND[1]), "grey")
    assert page.image.ndim == 2
    assert len(np.unique(page.image)) > 32


def test_the_decoded_array_and_the_file_give_the_same_page():
    import cv2

    data = still(FOUND[1])
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(scan_page(decoded).image, scan_page(data).image)


def test_a_known_focal_length_measures_the_shape_exactly():
    from documents.aspect import measured_ratio

    for case in FOUND:
        page = scan_page(still(case))
        ratio = measured_ratio(page.quad, TEST_SIZE, case.focal_px())
        assert ratio == pytest.approx(210 / 297, rel=0.005), case.name


def test_bytes_that_are_not_an_image_are_refused():
    with pytest.raises(ImageUnreadableError, match="not an image"):
        scan_page(b"\xff\xd8 not really a jpeg")


def test_an_oversized_image_is_refused_from_its_header(monkeypatch):
    import cv2

    from documents import pipeline

    monkeypatch.setattr(pipeline, "MAX_PIXELS", TEST_SIZE[0] * TEST_SIZE[1] - 1)
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded anyway"))
    with pytest.raises(ImageUnreadableError, match="too large"):
        scan_page(still(FOUND[0]))


def test_the_page_is_found_in_the_preview_too():
    # What a station can use to say "page in view" before taking the still.
    from capture.fake import FakeCamera
    from documents.detect import find_page

    for case in FOUND + REFUSED:
        with FakeCamera(case.scene(), still_size=TEST_SIZE, lores_size=(640, 480)) as cam:
            luma = cam.preview_luma()
        if case.refused:
            with pytest.raises(PageNotFoundError):
                find_page(luma)
            continue
        quad = find_page(luma)
        truth = case.corners((640, 480))
        assert min(corner_error(np.roll(quad.corners, -k, axis=0), truth)
                   for k in range(4)) < 0.003, case.name
