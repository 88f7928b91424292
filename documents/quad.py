"""A page's outline in a photo: four corners in the page's own order.

Corners are ``(x, y)`` pixels in OpenCV's convention (a pixel's centre at integers), ordered
top-left, top-right, bottom-right, bottom-left *of the page as printed*, once orientation is
known; before that, of the page as it appears in the photo (the corner nearest the photo's
top-left first, then clockwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quad:
    """Four corners, shape (4, 2) float64, clockwise from the page's top-left."""

    corners: np.ndarray

    def __post_init__(self) -> None:
        corners = np.asarray(self.corners, dtype=np.float64).reshape(4, 2)
        corners.setflags(write=False)
        object.__setattr__(self, "corners", corners)

    @classmethod
    def from_points(cls, points: np.ndarray) -> Quad:
        """Order four unordered points clockwise (in image coordinates, y down), starting
        with the one nearest the photo's top-left."""
        pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
        centre = pts.mean(axis=0)
        angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
        pts = pts[np.argsort(angles)]  # clockwise on screen, because y points down
        start = int(np.argmin(pts.sum(axis=1)))
        return cls(np.roll(pts, -start, axis=0))

    def starting_at(self, index: int) -> Quad:
        """The same outline with corner ``index`` first: once the page is known to lie turned
        ``index`` quarter turns clockwise, its printed top-left is corner ``index``."""
        return Quad(np.roll(self.corners, -(index % 4), axis=0))

    def side_lengths(self) -> np.ndarray:
        """Top, right, bottom, left side lengths in pixels."""
        return np.linalg.norm(np.roll(self.corners, -1, axis=0) - self.corners, axis=1)

    def area(self) -> float:
        x, y = self.corners[:, 0], self.corners[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    def diagonal(self) -> float:
        """The mean of the two diagonals: the scale corner errors are measured against."""
        c = self.corners
        return float((np.linalg.norm(c[2] - c[0]) + np.linalg.norm(c[3] - c[1])) / 2)

    def scaled(self, factor: float) -> Quad:
        """Corners of the same outline in an image ``factor`` times as large (pixel centres
        stay centres)."""
        return Quad((self.corners + 0.5) * factor - 0.5)
