"""Undo the two shapes a wristband's symbol takes that decoders cope with worst: a skew and a
wrap round the wrist.

PDF417 is read row by row: its detector tolerates little skew, and its codewords are told
apart by bar widths, which a band wrapped round a wrist squeezes towards the edges (a
cylinder seen side on). The fix follows the geometry:

* :func:`dominant_angle` measures how far the symbol's bars lean from vertical, from the
  structure tensor of the region (the mean orientation of its strongest edges);
  :func:`deskewed` turns the region by that much.
* :func:`unwrapped` then maps a deskewed region back to the flat band: the symbol spans
  ``2 * wrap`` degrees of a cylinder whose axis runs across the band, so a point at arc
  length ``s`` from the middle is seen at ``R * sin(s / R)``; resampling the columns at those
  positions restores equal bar widths. The wrap itself is not known, so the caller tries a
  few angles in the range a band on a wrist takes.

These are pure pixel transforms: they cannot make a decoder report a symbol whose checksums
and error correction do not agree.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

#: Columns whose edge energy is under this share of the strongest column are not symbol.
_EXTENT_SHARE = 0.2


def dominant_angle(image: np.ndarray) -> float:
    """Degrees (counter-clockwise, Pillow's ``rotate`` sense) that turn ``image``'s dominant
    edges to vertical bars; in (-45, 45], so an upside-down symbol stays upside down."""
    # Smoothed first: on bars two pixels wide a difference is direction-biased (it reads
    # steep edges as steeper), and a blur of 2 px takes that bias under a degree.
    f = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2))).astype(np.float32)
    # Central differences, so both components belong to the same pixel.
    gx = f[1:-1, 2:] - f[1:-1, :-2]
    gy = f[2:, 1:-1] - f[:-2, 1:-1]
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    if jxx + jyy == 0:
        return 0.0
    angle = 0.5 * math.degrees(math.atan2(2 * jxy, jxx - jyy))  # gradient direction
    if angle > 45:
        angle -= 90
    elif angle <= -45:
        angle += 90
    return angle


def deskewed(image: np.ndarray) -> np.ndarray:
    """``image`` turned so its dominant edges run vertically (border filled with its median,
    so no new edge appears round it)."""
    angle = dominant_angle(image)
    fill = int(np.median(image))
    turned = Image.fromarray(image).rotate(angle, resample=Image.BILINEAR, expand=True,
                                           fillcolor=fill)
    return np.asarray(turned)


def unwrapped(image: np.ndarray, wrap_degrees: float) -> np.ndarray | None:
    """A deskewed ``image`` with its columns resampled as the flat band, assuming the symbol
    spans ``wrap_degrees`` either side of the middle of a cylinder; None when no symbol
    extent can be found."""
    f = image.astype(np.float32)
    energy = np.abs(np.diff(f, axis=1)).sum(axis=0)
    if energy.size == 0 or float(energy.max()) == 0.0:
        return None
    cols = np.nonzero(energy > _EXTENT_SHARE * float(energy.max()))[0]
    left, right = int(cols[0]), int(cols[-1])
    half = (right - left) / 2.0
    if half < 8:
        return None
    theta = math.radians(wrap_degrees)
    radius = half / math.sin(theta)
    arc = radius * theta
    s = np.arange(int(2 * arc)) - arc
    src = np.clip((left + right) / 2.0 + radius * np.sin(s / radius), 0, f.shape[1] - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, f.shape[1] - 1)
    frac = (src - i0).astype(np.float32)
    flat = f[:, i0] * (1 - frac) + f[:, i1] * frac
    # The columns beyond the symbol (quiet zone, label edge) are kept as they were.
    out = np.concatenate([f[:, :left], flat, f[:, right + 1:]], axis=1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
