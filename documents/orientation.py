"""Which way up the page lies, read from its text.

Two cues of printed and handwritten Latin text. Lines run across the page: the ink's profile
along the lines' direction swings hard between lines and gaps, across it much less, which
tells upright or upside down from sideways. And letters reach up more than down: ascenders
and capitals (b d f h k l t, A-Z, the dots on i and j) are far commoner than descenders (g j
p q y), so within each line more ink sits above the x-height band than below it, which tells
upright from upside down. A page without enough text (a sketch) is left as photographed.
"""

from __future__ import annotations

import cv2
import numpy as np

from .enhance import flatten

#: The page is analysed at about this many pixels along its long side.
ANALYSIS_PX = 1400
#: Line profiles must differ by this factor before the page is called sideways.
SIDEWAYS_FACTOR = 1.25
#: Ascender share needed to call a direction (0 = as much ink below as above).
MIN_ASYMMETRY = 0.12
MIN_LINES = 3


def quarter_turns(grey: np.ndarray) -> int:
    """How many quarter turns clockwise the page's content lies in ``grey`` (a straightened
    page): 0 upright, 1 its top on the right, 2 upside down, 3 its top on the left. 0 when
    the page does not hold enough text to tell."""
    ink = text_ink(grey)
    rows, columns = _swing(ink.sum(axis=1)), _swing(ink.sum(axis=0))
    if columns > SIDEWAYS_FACTOR * rows:
        # Lines run down the page: turn it a quarter back and read it as upright or not.
        turned = np.ascontiguousarray(np.rot90(ink))  # counter-clockwise
        verdict = _up_or_down(turned)
        return {1: 1, -1: 3}.get(verdict, 0)
    verdict = _up_or_down(ink)
    return 2 if verdict == -1 else 0


def text_ink(grey: np.ndarray) -> np.ndarray:
    """A 0/1 mask of letter-sized ink blobs (drawings, barcodes and specks dropped)."""
    height, width = grey.shape[:2]
    factor = ANALYSIS_PX / max(height, width)
    small = cv2.resize(grey, (round(width * factor), round(height * factor)),
                       interpolation=cv2.INTER_AREA) if factor < 1 else grey
    flat = flatten(small)
    mask = (flat < 0.7 * 255).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    letters = (extent <= 0.03 * max(small.shape)) & (stats[:, cv2.CC_STAT_AREA] >= 3)
    letters[0] = False
    return letters[labels].astype(np.uint8)


def _swing(profile: np.ndarray) -> float:
    """How hard a projection profile swings between ink and gaps, relative to its mass."""
    total = float(profile.sum())
    if total <= 0:
        return 0.0
    return float(np.abs(np.diff(profile.astype(np.float64))).sum() / total)


def _up_or_down(ink: np.ndarray) -> int:
    """+1 when the text lines (running across ``ink``) read upright, -1 upside down, 0 when
    there is not enough text to say."""
    profile = ink.sum(axis=1).astype(np.float64)
    if profile.max() <= 0:
        return 0
    inked = profile > 0.05 * profile.max()
    above = below = 0.0
    lines = 0
    start = None
    for row, on in enumerate(np.append(inked, False)):
        if on and start is None:
            start = row
        elif not on and start is not None:
            band = profile[start:row]
            start = None
            if len(band) < 4:
                continue
            core = np.flatnonzero(band >= 0.5 * band.max())
            above += band[: core[0]].sum()
            below += band[core[-1] + 1:].sum()
            lines += 1
    if lines < MIN_LINES or above + below <= 0:
        return 0
    asymmetry = (above - below) / (above + below)
    if abs(asymmetry) < MIN_ASYMMETRY:
        return 0
    return 1 if asymmetry > 0 else -1
