"""Clean a straightened page: even out the light, then keep what the page is for.

The paper's own brightness is estimated on a small copy (a max filter removes the ink, a blur
keeps shadows and light falloff) and divided out, so the paper comes out white from corner to
corner whatever the room's light. Then ``text`` pages become clean black and white (smallest
files, crisp handwriting), ``grey`` pages keep shades (pencil, stamps, faint print), and
``sketch`` pages keep their colours, white-balanced against the paper.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np


class Mode(StrEnum):
    """How a page is kept: what it holds decides what must survive."""

    TEXT = "text"
    GREY = "grey"
    SKETCH = "sketch"


#: The paper's estimate is made this many times smaller than the page.
BACKGROUND_SHRINK = 16
#: Ink is darker than this share of the paper's brightness (black-and-white pages).
INK_LEVEL = 0.72
#: Values this close to the paper's brightness become pure white (grey and colour pages).
WHITE_LEVEL = 0.92


def paper_background(image: np.ndarray) -> np.ndarray:
    """The paper's brightness under ``image`` (same shape), ink removed."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // BACKGROUND_SHRINK),
                               max(1, height // BACKGROUND_SHRINK)),
                       interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    small = cv2.dilate(small, kernel)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    background = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.maximum(background, 1)


def flatten(image: np.ndarray) -> np.ndarray:
    """``image`` divided by its paper brightness: paper about 255 everywhere."""
    return cv2.divide(image, paper_background(image), scale=255.0)


def enhance(page: np.ndarray, mode: Mode) -> np.ndarray:
    """The cleaned page: 2-D ``uint8`` (0 or 255 for ``text``; shades for ``grey``) or
    3-channel BGR for ``sketch``. ``page`` is greyscale for text and grey, BGR for sketch."""
    mode = Mode(mode)
    if mode is Mode.SKETCH:
        if page.ndim != 3:
            page = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    elif page.ndim == 3:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    flat = flatten(page)
    if mode is Mode.TEXT:
        smooth = cv2.GaussianBlur(flat, (3, 3), 0)
        _, bw = cv2.threshold(smooth, INK_LEVEL * 255, 255, cv2.THRESH_BINARY)
        return bw
    return cv2.convertScaleAbs(flat, alpha=1.0 / WHITE_LEVEL)
