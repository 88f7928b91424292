import numpy as np
import pytest

from capture.fake_page import FOCAL_SHARE, PageScene, page_corners
from documents.aspect import DEFAULT_FOCAL_SHARE, PAPERS, measured_ratio, paper_shape
from documents.quad import Quad

SIZE = (4056, 3040)


@pytest.mark.parametrize("tilt", [0, 10, 20, 35])
@pytest.mark.parametrize("axis", [0, 30, 90, 135])
def test_perspective_is_undone_with_the_lens_known(tilt, axis):
    page = PageScene(tilt=tilt, tilt_axis=axis, rotation=5, offset=(0.1, -0.05), scale=0.7)
    quad = Quad.from_points(page_corners(page, SIZE))
    ratio = measured_ratio(quad, SIZE, FOCAL_SHARE * SIZE[0])
    assert ratio == pytest.approx(210 / 297, rel=1e-6)


@pytest.mark.parametrize("axis", [0, 45, 90])
def test_the_assumed_lens_still_gives_a4_at_35_degrees(axis):
    assert DEFAULT_FOCAL_SHARE != FOCAL_SHARE  # the fake's lens is not the one assumed
    quad = Quad.from_points(page_corners(PageScene(tilt=35, tilt_axis=axis), SIZE))
    shape = paper_shape(measured_ratio(quad, SIZE))
    assert shape.name == "a4"
    assert shape.size_mm == PAPERS["a4"]


def test_the_photo_s_own_side_ratio_would_be_wrong():
    # Why the perspective step exists: at 35 degrees the naive ratio is off by far more than
    # the paper tolerance.
    quad = Quad.from_points(page_corners(PageScene(tilt=35, tilt_axis=0), SIZE))
    top, right, bottom, left = quad.side_lengths()
    naive = ((top + bottom) / 2) / ((left + right) / 2)
    assert abs(naive / (210 / 297) - 1) > 0.1


def test_paper_shapes():
    assert paper_shape(215.9 / 279.4).name == "letter"
    landscape = paper_shape(297 / 210 * 1.01)
    assert (landscape.name, landscape.size_mm) == ("a4", (297.0, 210.0))
    square = paper_shape(1.0)  # a note: fitted into A4, its shape kept
    assert square.name is None
    assert square.size_mm == pytest.approx((210.0, 210.0))
    receipt = paper_shape(0.3)
    assert receipt.name is None
    assert receipt.size_mm[1] == pytest.approx(297.0)
    assert receipt.size_mm[0] / receipt.size_mm[1] == pytest.approx(0.3)


def test_quad_ordering_and_turning():
    points = np.array([[100.0, 900.0], [90.0, 80.0], [700.0, 850.0], [650.0, 60.0]])
    quad = Quad.from_points(points)
    assert quad.corners.tolist() == [[90, 80], [650, 60], [700, 850], [100, 900]]
    assert quad.starting_at(1).corners[0].tolist() == [650, 60]
    assert quad.starting_at(4).corners.tolist() == quad.corners.tolist()
    assert quad.area() == pytest.approx(Quad.from_points(points[::-1]).area())
