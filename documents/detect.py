"""Find the page in a photo: edges -> the largest plausible quadrilateral.

The search runs on a copy about a thousand pixels across (fast, and blind to text and paper
texture); the corners found there are then refined on the full-resolution image
(:mod:`documents.refine`), so a 12 MP still costs one downscale, not a full-size edge pass.
Two masks are tried, because no one cue survives every desk: Otsu's threshold (a light page on
a darker desk, even in a dim room) and Canny edges (a page under a shadow that is darker than
the lit desk). A page that touches the photo's edge is refused rather than guessed at: its
missing corner would be invented.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from .errors import PageNotFoundError
from .quad import Quad
from .refine import refine_quad

#: Long side of the copy the page is searched in.
SEARCH_PX = 1000
#: A page must cover at least this share of the photo.
MIN_AREA_SHARE = 0.08
#: Corners must make angles within this range (degrees): a page at 35 degrees of tilt stays
#: well inside it, a wedge of desk does not.
ANGLE_RANGE = (35.0, 145.0)
#: The outline must fill its quadrilateral at least this well (a page, not an L-shape).
MIN_FILL = 0.9
#: A corner closer than this share of the photo's size to its edge counts as cut off.
EDGE_MARGIN = 0.004
#: A shape cut by the frame is reported as a page partly out of view only when it covers at
#: most this share of the photo and is this much (grey levels) lighter than the rest.
MAX_CUT_SHARE = 0.85
MIN_CUT_CONTRAST = 20

NOT_FOUND = "no page found in the picture: lay the whole page flat on a darker surface, in view"
OFF_FRAME = "the page runs off the edge of the picture: move it (or the camera) so all four " \
            "corners are in view"


def find_page(grey: np.ndarray) -> Quad:
    """The page's outline in ``grey`` (2-D ``uint8``, full resolution), refined to sub-pixel
    corners; :class:`PageNotFoundError` when there is no whole page."""
    height, width = grey.shape[:2]
    factor = max(1.0, max(width, height) / SEARCH_PX)
    small_size = (round(width / factor), round(height / factor))
    small = cv2.resize(grey, small_size, interpolation=cv2.INTER_AREA)
    coarse = coarse_quad(small)
    return refine_quad(grey, coarse.scaled(width / small_size[0]), reach=2.0 * factor + 3)


def coarse_quad(small: np.ndarray) -> Quad:
    """The largest plausible quadrilateral in a small greyscale image."""
    height, width = small.shape
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    otsu_level, otsu = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    otsu = cv2.morphologyEx(otsu, cv2.MORPH_OPEN, kernel)
    edges = cv2.Canny(blurred, 0.25 * otsu_level, 0.5 * otsu_level)
    edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    best: Quad | None = None
    cut_off = False
    min_area = MIN_AREA_SHARE * width * height
    for mask in (otsu, edges):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            hull = cv2.convexHull(contour).reshape(-1, 2)
            if cv2.contourArea(hull) < min_area:
                continue
            if _touches_edge(hull, width, height):
                cut_off = cut_off or _stands_out(blurred, hull)
                continue
            quad = _quad_from_contour(contour)
            if quad is None or quad.area() < min_area:
                continue
            if best is None or quad.area() > best.area():
                best = quad
    if best is None:
        raise PageNotFoundError(OFF_FRAME if cut_off else NOT_FOUND)
    return best


def _quad_from_contour(contour: np.ndarray) -> Quad | None:
    """The contour's hull simplified to four corners, if it is a plausible page."""
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    points = None
    for epsilon in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True).reshape(-1, 2)
        if len(approx) < 4:
            return None
        if len(approx) <= 8:
            points = approx
        if len(approx) == 4:
            break
    if points is None:
        return None
    quad = Quad.from_points(_largest_four(points.astype(np.float64)))
    hull_area = cv2.contourArea(hull)
    if hull_area <= 0 or cv2.contourArea(contour) / quad.area() < MIN_FILL:
        return None
    if quad.area() / hull_area < MIN_FILL:
        return None
    return quad if _angles_plausible(quad) else None


def _largest_four(points: np.ndarray) -> np.ndarray:
    """Of a convex polygon's vertices (at most eight), the four spanning the largest area."""
    if len(points) == 4:
        return points
    best, best_area = points[:4], -1.0
    for combo in itertools.combinations(range(len(points)), 4):
        quad = points[list(combo)]  # hull order is kept, so the four stay convex
        x, y = quad[:, 0], quad[:, 1]
        area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        if area > best_area:
            best, best_area = quad, area
    return best


def _angles_plausible(quad: Quad) -> bool:
    c = quad.corners
    for i in range(4):
        a, b = c[i - 1] - c[i], c[(i + 1) % 4] - c[i]
        cosine = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9)
        angle = math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))
        if not ANGLE_RANGE[0] <= angle <= ANGLE_RANGE[1]:
            return False
    return True


def _stands_out(small: np.ndarray, hull: np.ndarray) -> bool:
    """Whether a shape cut by the frame looks like a page, not the frame itself (a bare desk,
    a wall): it leaves some of the photo outside it, and is lighter than the rest."""
    height, width = small.shape
    if cv2.contourArea(hull) > MAX_CUT_SHARE * width * height:
        return False
    inside = np.zeros_like(small)
    cv2.fillConvexPoly(inside, hull.astype(np.int32), 255)
    lighter = cv2.mean(small, inside)[0] - cv2.mean(small, cv2.bitwise_not(inside))[0]
    return lighter >= MIN_CUT_CONTRAST


def _touches_edge(points: np.ndarray, width: int, height: int) -> bool:
    margin = EDGE_MARGIN * max(width, height) + 1
    x, y = points[:, 0], points[:, 1]
    return bool((x < margin).any() or (y < margin).any() or (x > width - 1 - margin).any()
                or (y > height - 1 - margin).any())
