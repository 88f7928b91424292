"""The review preview helpers (the camera tests cover them on real frames)."""

import numpy as np
import pytest

from capture.preview import PREVIEW_MAX_SIDE, preview_size, yuv420_preview


@pytest.mark.parametrize(("size", "expected"), [
    ((640, 480), (320, 240)),
    ((3040, 4056), (240, 320)),  # portrait keeps its aspect
    ((4056, 3040), (320, 240)),
    ((200, 100), (200, 100)),  # never enlarged
])
def test_preview_size_fits_the_longer_side(size, expected):
    assert preview_size(size) == expected
    assert max(preview_size(size)) <= PREVIEW_MAX_SIDE


def test_a_frame_too_small_for_its_size_is_refused():
    with pytest.raises(ValueError, match="not a YUV420 frame of 640x480"):
        yuv420_preview(np.zeros((480, 640), dtype=np.uint8), (640, 480))  # no chroma planes
    with pytest.raises(ValueError, match="not a YUV420 frame"):
        yuv420_preview(np.zeros((720, 320), dtype=np.uint8), (640, 480))  # narrower than wide
