"""The generated corpus of page photos: known corners, known orientation, known refusals.

Each case is a fake-camera page scene (an A4 form with text, a QR code, a drawing and
handwriting) on a desk: tilted up to 35 degrees about various axes, under a shadow, in dim
light with sensor noise, lying sideways or upside down; and pages partly out of view, which
must be refused. Stills are rendered once per process and JPEG-encoded as the camera would.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np

from capture.fake import Scene, render_scene
from capture.fake_page import FOCAL_SHARE, PageScene, page_corners

#: Tests run on the Pi HQ camera's binned 3 MP still; the benchmark on the full 12 MP.
TEST_SIZE = (2028, 1520)
BENCH_SIZE = (4056, 3040)


@dataclass(frozen=True)
class PageCase:
    name: str
    page: PageScene
    noise: float = 0.0
    #: Quarter turns clockwise the page lies (what orientation must find).
    turns: int = 0
    refused: bool = False

    def scene(self) -> Scene:
        return Scene(page=self.page, noise=self.noise, seed=sum(map(ord, self.name)))

    def corners(self, size: tuple[int, int] = TEST_SIZE) -> np.ndarray:
        return page_corners(self.page, size)

    def focal_px(self, size: tuple[int, int] = TEST_SIZE) -> float:
        return FOCAL_SHARE * size[0]


CASES = (
    PageCase("square-on", PageScene(tilt=0, rotation=2, shadow=False)),
    PageCase("tilt-20", PageScene(tilt=20, tilt_axis=30)),
    PageCase("tilt-35-across", PageScene(tilt=35, tilt_axis=0, rotation=-6)),
    PageCase("tilt-35-along", PageScene(tilt=35, tilt_axis=90, rotation=3)),
    PageCase("tilt-35-diagonal", PageScene(tilt=35, tilt_axis=135, rotation=8, scale=0.7)),
    PageCase("shadow-off-centre", PageScene(tilt=15, tilt_axis=60, offset=(0.08, -0.05))),
    PageCase("low-light", PageScene(tilt=25, tilt_axis=10, light=0.35), noise=4),
    PageCase("very-low-light", PageScene(tilt=10, light=0.22), noise=3),
    PageCase("sideways-right", PageScene(tilt=25, tilt_axis=45, rotation=92), turns=1),
    PageCase("sideways-left", PageScene(tilt=30, tilt_axis=100, rotation=268, light=0.5),
             noise=3, turns=3),
    PageCase("upside-down", PageScene(tilt=20, tilt_axis=160, rotation=183), turns=2),
    PageCase("upside-down-dim", PageScene(tilt=35, tilt_axis=20, rotation=177, light=0.4),
             noise=4, turns=2),
    PageCase("small-far", PageScene(tilt=12, scale=0.5, offset=(-0.15, 0.1))),
    PageCase("off-right", PageScene(tilt=15, offset=(0.35, 0.0)), refused=True),
    PageCase("off-bottom", PageScene(tilt=20, offset=(0.0, 0.3), light=0.4), noise=3,
             refused=True),
    PageCase("too-close", PageScene(tilt=5, scale=1.1), refused=True),
)
FOUND = tuple(c for c in CASES if not c.refused)
REFUSED = tuple(c for c in CASES if c.refused)


@cache
def still(case: PageCase, size: tuple[int, int] = TEST_SIZE) -> bytes:
    """The case's still as the camera gives it: a JPEG at quality 90."""
    buffer = io.BytesIO()
    render_scene(case.scene(), size).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@cache
def sample_pages() -> tuple:
    """Two scanned pages for the tests that need real pages: a text page photographed at 35
    degrees and a page lying sideways, kept as a colour sketch."""
    from documents import Mode, scan_page

    by_name = {c.name: c for c in FOUND}
    return (scan_page(still(by_name["tilt-35-diagonal"])),
            scan_page(still(by_name["sideways-right"]), Mode.SKETCH))


def corner_error(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean distance between matching corners, as a share of the page's diagonal."""
    diagonal = (np.linalg.norm(truth[2] - truth[0]) + np.linalg.norm(truth[3] - truth[1])) / 2
    return float(np.linalg.norm(found - truth, axis=1).mean() / diagonal)
