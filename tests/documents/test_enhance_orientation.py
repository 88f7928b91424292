import numpy as np
import pytest

from capture.fake_page import PageScene, render_page
from documents.enhance import Mode, enhance, flatten
from documents.orientation import quarter_turns


@pytest.fixture(scope="module")
def flat_page():
    return np.asarray(render_page(PageScene(), px_per_mm=200 / 25.4).convert("L"))


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_orientation_is_read_from_the_text(flat_page, turns):
    lying = np.ascontiguousarray(np.rot90(flat_page, -turns))  # turned clockwise
    assert quarter_turns(lying) == turns


def test_a_page_without_text_is_left_as_it_is():
    blank = np.full((1200, 850), 240, np.uint8)
    blank[300:900, 200:650] = 30  # a big dark shape, no letters
    assert quarter_turns(blank) == 0


def test_uneven_light_and_shadow_are_flattened_to_white_paper(flat_page):
    height, width = flat_page.shape
    light = np.linspace(0.35, 1.0, width)[None, :] * np.linspace(1.0, 0.6, height)[:, None]
    dim = (flat_page * light).astype(np.uint8)
    out = flatten(dim)
    paper = flat_page > 200
    assert np.percentile(out[paper], 5) > 235
    bw = enhance(dim, Mode.TEXT)
    assert set(np.unique(bw)) == {0, 255}
    ink = flat_page < 100
    agree = (bw[ink] == 0).mean(), (bw[paper] == 255).mean()
    assert agree[0] > 0.95 and agree[1] > 0.995


def test_sketch_mode_white_balances_but_keeps_colour():
    page = render_page(PageScene(content="sketch"), px_per_mm=6)
    warm = np.asarray(page, dtype=np.float32) * np.array([0.75, 0.8, 0.95])  # RGB, warm light
    bgr = warm[..., ::-1].astype(np.uint8)
    out = enhance(bgr, Mode.SKETCH)
    paper = np.asarray(page.convert("L")) > 200
    assert np.abs(out[paper].astype(int).mean(axis=0) - 255).max() < 6
    original = np.asarray(page)[..., ::-1]
    red = (original[..., 2] > 150) & (original[..., 1] < 60)
    assert red.sum() > 100
    assert (out[red][:, 2].astype(int) - out[red][:, 1]).mean() > 80


def test_modes_are_checked():
    with pytest.raises(ValueError):
        enhance(np.zeros((10, 10), np.uint8), "sepia")
