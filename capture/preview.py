"""The review preview: a small JPEG made from a frame the camera already has in memory.

The review UI shows a thumbnail of every capture. Decoding the 12 MP still to make one costs
tens of milliseconds even with DCT scaling (entropy decoding dominates), on the path between
the button press and the sealed capture; the camera's ``lores`` stream of the same request
already holds the picture at a few hundred pixels, so the preview is a downscale and a tiny
encode instead. The result is upright as the camera delivers it and a fresh encode, so it
carries no metadata at all.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

#: The preview's longer side at most, as the review UI lays thumbnails out.
PREVIEW_MAX_SIDE = 320
PREVIEW_QUALITY = 70


def preview_size(size: tuple[int, int], max_side: int = PREVIEW_MAX_SIDE) -> tuple[int, int]:
    """``size`` (width, height) scaled to fit ``max_side``, keeping the aspect; never enlarged."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_preview(image: Image.Image, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """``image`` (RGB or YCbCr) downscaled to fit ``max_side`` and encoded as a bare JPEG."""
    small = image.resize(preview_size(image.size, max_side), Image.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=PREVIEW_QUALITY)
    return out.getvalue()


def yuv420_preview(frame: np.ndarray, size: tuple[int, int],
                   max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """The preview JPEG of a YUV420 frame as picamera2 returns it for a ``YUV420`` stream.

    ``frame`` is ``(height * 3 / 2, stride)`` bytes: the Y plane (``height`` rows of ``stride``)
    followed by the U and V planes at half resolution with half the stride; ``size`` is the
    stream's (width, height), the stride may exceed the width. picamera2's still configuration
    uses the sYCC colour space (full-range BT.601), which is exactly JPEG's YCbCr, so the
    planes are encoded as they are: no RGB round trip, the decoder does the conversion.
    Raises ValueError when the frame is too small for ``size``.
    """
    width, height = size
    if frame.ndim != 2 or frame.shape[1] < width:
        raise ValueError(f"not a YUV420 frame of {width}x{height}: shape {frame.shape}")
    stride = frame.shape[1]
    chroma_w, chroma_h, chroma_stride = (width + 1) // 2, (height + 1) // 2, stride // 2
    flat = np.ascontiguousarray(frame).reshape(-1)
    y_end = stride * height
    u_end = y_end + chroma_stride * chroma_h
    v_end = u_end + chroma_stride * chroma_h
    if flat.size < v_end:
        raise ValueError(f"not a YUV420 frame of {width}x{height}: shape {frame.shape}")
    planes = (
        flat[:y_end].reshape(height, stride)[:, :width],
        flat[y_end:u_end].reshape(chroma_h, chroma_stride)[:, :chroma_w],
        flat[u_end:v_end].reshape(chroma_h, chroma_stride)[:, :chroma_w],
    )
    target = preview_size(size, max_side)
    y, u, v = (Image.fromarray(np.ascontiguousarray(p)).resize(target, Image.BILINEAR)
               for p in planes)
    return encode_preview(Image.merge("YCbCr", (y, u, v)), max_side)
