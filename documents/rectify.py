"""Perspective-correct the page: one warp of the full-resolution image, straight to the
output size, so no intermediate full-size copy is made."""

from __future__ import annotations

import cv2
import numpy as np

from .quad import Quad


def rectify(image: np.ndarray, quad: Quad, size: tuple[int, int]) -> np.ndarray:
    """The page inside ``quad`` as a ``size`` (width, height) image: the quad's first corner
    at the output's top-left, the page's edges on the output's edges."""
    width, height = size
    target = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5],
                       [-0.5, height - 0.5]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.corners.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
