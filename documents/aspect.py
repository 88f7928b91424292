"""The page's real shape, from its outline in a perspective photo.

A page seen at an angle is foreshortened: the ratio of its sides in the photo is not the
ratio on the desk. Given the lens's focal length, a rectangle's four corners give its true
aspect ratio exactly (Zhang and He, "Whiteboard scanning and image enhancement", 2007;
square pixels, principal point at the photo's centre). The same paper also recovers the focal
length from the corners, but only when both pairs of sides converge: a page tilted about an
axis parallel to the photo's edge has one vanishing point and no focal estimate, and near
that case the estimate is wild (40 % aspect errors on our corpus). So the focal length is an
input: the station knows its lens, and for other photos a normal lens is assumed, which costs
at most a few per cent at 35 degrees of tilt. The result is then matched to a standard paper
size, so a page photographed at an angle still becomes an exact A4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quad import Quad

#: Paper sizes in millimetres, portrait (width, height). A5 and A3 have A4's shape, and are
#: filed at A4's size.
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4), "legal": (215.9, 355.6)}
#: Focal length assumed when none is given, as a share of the photo's width: a normal lens
#: (Pi HQ camera with its 6 mm lens 0.95, Pi Camera Module 3 0.74, most phones 0.75-0.8).
DEFAULT_FOCAL_SHARE = 0.85
#: How close (relative) a measured shape must be to a paper's to be taken as that paper.
SNAP_TOLERANCE = 0.04


@dataclass(frozen=True)
class PaperShape:
    """What the page is taken to be: ``name`` is a key of :data:`PAPERS` or ``None``;
    ``size_mm`` is (width, height) as the page lies in the photo's corner order."""

    name: str | None
    size_mm: tuple[float, float]
    measured_ratio: float


def measured_ratio(quad: Quad, image_size: tuple[int, int],
                   focal_px: float | None = None) -> float:
    """The page's width / height (its top side over its left side, in the quad's corner
    order) on the desk, undoing perspective. ``focal_px`` is the lens's focal length in
    pixels at this photo's size (default: :data:`DEFAULT_FOCAL_SHARE` of its width)."""
    width, height = image_size
    focal = focal_px or DEFAULT_FOCAL_SHARE * width
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    tl, tr, br, bl = (np.append((c - centre) / focal, 1.0) for c in quad.corners)
    # Zhang & He's numbering: m1 top-left, m2 top-right, m3 bottom-left, m4 bottom-right.
    # With coordinates divided by the focal length, the camera matrix is the identity, and
    # n2, n3 are the page's two side directions in space (up to a common scale).
    m1, m2, m3, m4 = tl, tr, bl, br
    k2 = np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3)
    k3 = np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2)
    n2, n3 = k2 * m2 - m1, k3 * m3 - m1
    return float(np.linalg.norm(n2) / np.linalg.norm(n3))


def paper_shape(ratio: float) -> PaperShape:
    """The standard paper whose shape is within :data:`SNAP_TOLERANCE` of ``ratio`` (width
    over height), turned to match; otherwise a page of that ratio fitted into A4."""
    portrait = ratio <= 1.0
    tall = 1.0 / ratio if portrait else ratio
    for name, (w, h) in PAPERS.items():
        if abs(tall / (h / w) - 1.0) <= SNAP_TOLERANCE:
            return PaperShape(name, (w, h) if portrait else (h, w), ratio)
    a4_w, a4_h = PAPERS["a4"]
    short = min(a4_w, a4_h / tall)
    size = (short, short * tall) if portrait else (short * tall, short)
    return PaperShape(None, size, ratio)
