"""A small preview JPEG for the review UI, made in memory from the (already cleaned) still.

Decoding uses JPEG DCT scaling (``Image.draft``), so a 12 MP still becomes a preview in a few
tens of milliseconds on a Pi; the preview is a fresh encode and carries no metadata at all.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import JpegError

PREVIEW_MAX_SIDE = 320
PREVIEW_QUALITY = 70


def make_preview(jpeg: bytes, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """A JPEG no larger than ``max_side`` on its longer side, upright, without metadata."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG":
                raise JpegError("not a JPEG image")
            image.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(image)
            upright = upright.convert("RGB")
            upright.thumbnail((max_side, max_side))
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=PREVIEW_QUALITY)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise JpegError(f"cannot decode the JPEG for a preview ({type(exc).__name__})") from None
