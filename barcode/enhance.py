"""A second look at the parts of a frame that show a symbol the first decode could not read.

Exam rooms are not clean: a band far from the camera has under two lores pixels per module, a
dim room gives noise, a glossy band gives glare, a hand gives motion. The plain decode (one
zxing-cpp call on the whole lores frame) reads most frames; :class:`SecondLook` handles the
rest, and only where a symbol seems to be:

1. *Find candidates*: whatever the decoder found but could not decode, plus regions dense in
   strong edges (:func:`candidates`, a block statistic on the lores plane, a few tenths of a
   millisecond); minus the regions of symbols already decoded. The edge search runs only when
   no patient band was read and a quick test on 1/16 of the pixels (:func:`worth_searching`,
   tens of microseconds) sees dense edges outside the decoded symbols, so an empty frame or
   one whose symbols were all read costs little more than the plain decode.
2. *Look closer*, region by region, cheapest and most productive first, stopping at the first
   step that decodes something there (the steps were measured on the hard corpus in
   ``tests/barcode/hard_corpus.py``; see ``make bench``):

   * escalation: the same region from the camera's full-resolution stream, through the
     ``full_res`` seam (a callable: box in lores pixels in, luma out), when the station has one;
   * the region upscaled 2x (bicubic): small symbols, curved bands (with escalation, only
     the full-resolution region, with both binarisers, and this step are tried);
   * the region with a global-histogram binariser: dim frames, glare;
   * the region smoothed (Gaussian, 1 px): sensor noise;
   * the upscaled region through the second backend (zbar reads some small Code 128 zxing
     cannot);
   * the region averaged over the last frames, when the band is held still (noise falls with
     the square root of the frame count).

Nothing here can invent a read: every step hands the decoders real pixels, and a decoder only
reports a symbol whose checksums and error correction agree. The interpreter's rules (GS1
check digits, conflicts) apply to these reads exactly as to the plain ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageFilter

from .backends import as_luma
from .straighten import deskewed, unwrapped
from .symbols import SymbolRead

Box = tuple[int, int, int, int]  # left, top, right, bottom (pixels)
#: The escalation seam: a box in lores pixels in, that region of the full-resolution stream
#: out (a 2-D uint8 luma array at any scale), or None when none can be had right now.
FullResCrop = Callable[[Box], Any]

BLOCK = 16  # lores pixels per candidate block
MIN_BLOCKS = 3  # a component smaller than this is not a symbol the station could read
#: Mean tile gradient (grey levels per half-resolution pixel) a region needs to count: symbols
#: in the hard corpus, dim and glared ones included, score 37 and up; a printed ruler, text or
#: a fabric pattern with sparser edges scores 15-20 and is left alone.
MIN_DENSITY = 26.0
#: The quick test before the search reads every ``SAMPLE``-th pixel of every ``SAMPLE``-th row
#: (1/16 of the frame, a few tens of microseconds at 640x480).
SAMPLE = 4
#: Sampled gradient a tile needs in the quick test. Sampling without averaging keeps a
#: symbol's fine modules: the undecoded symbols the search finds in the hard corpus score 94
#: and up on their three strongest tiles; a clean scene's edges (text, furniture, the rim of a
#: decoded symbol) score 34-70, and never three tiles above 63.
QUICK_LEVEL = 60


class _Decoder(Protocol):
    name: str

    def decode(self, frame: Any) -> list[SymbolRead]: ...


@dataclass(frozen=True)
class SecondLookSettings:
    """How hard to look. Defaults keep the cost on a Pi within the 8 Hz scan budget."""

    max_regions: int = 3  # regions looked at closely per frame
    stack_depth: int = 4  # frames averaged for a band held still (1: off)
    still_threshold: float = 6.0  # mean abs difference of 4x4 means that is still still
    #: Half-angles (degrees) of wrist wrap tried when unwrapping a curved band: the middle of
    #: what a symbol 3-5 cm wide on a wrist 5-7 cm across spans, then a gentler wrap.
    wraps: tuple[float, ...] = (40.0, 30.0)


def candidates(luma: np.ndarray, block: int = BLOCK) -> list[tuple[float, Box]]:
    """Regions dense in strong edges, densest first, as ``(score, box)`` in pixels; the score
    is the region's mean tile gradient.

    Per ``block``-sized tile: the mean absolute gradient of the half-resolution plane (halving
    first keeps sensor noise from counting). A tile counts when it stands well above the
    frame's median tile, which adapts the threshold to noisy dim frames; 4-connected tiles make
    one region, padded by a tile on each side.
    """
    if min(luma.shape) < 2 * block:
        return []
    # Box filters through Pillow's reduce(): several times faster than numpy reshape-means.
    half = np.asarray(Image.fromarray(luma).reduce(2)).astype(np.int16)
    grad = np.abs(np.diff(half, axis=1))[:-1, :] + np.abs(np.diff(half, axis=0))[:, :-1]
    grad8 = np.minimum(grad, 255).astype(np.uint8)
    b = block // 2
    rows, cols = grad8.shape[0] // b, grad8.shape[1] // b
    if rows == 0 or cols == 0:
        return []
    tiles = np.asarray(Image.fromarray(grad8[:rows * b, :cols * b]).reduce(b)).astype(np.float32)
    hot = tiles > max(10.0, 4.0 * float(np.median(tiles)))
    found = []
    for cells in _components(hot):
        density = float(sum(tiles[r, c] for r, c in cells)) / len(cells)
        if len(cells) < MIN_BLOCKS or density < MIN_DENSITY:
            continue
        rs = [r for r, _ in cells]
        cs = [c for _, c in cells]
        box = (max(0, (min(cs) - 1) * block), max(0, (min(rs) - 1) * block),
               min(luma.shape[1], (max(cs) + 2) * block),
               min(luma.shape[0], (max(rs) + 2) * block))
        found.append((density, box))
    found.sort(key=lambda item: -item[0])
    return found


def worth_searching(luma: np.ndarray, decoded: Sequence[Box], block: int = BLOCK) -> bool:
    """Whether :func:`candidates` can find anything the decoder has not read: at least
    ``MIN_BLOCKS`` tiles dense in edges outside the ``decoded`` boxes (grown by a tile).

    A quick, generous test on a sparse sample of the frame, so that a frame with nothing in it
    or only symbols already read (the usual clean frame) skips the search, which costs several
    times as much; when it says yes, the search runs exactly as without it.
    """
    step = block // SAMPLE
    rows = (luma.shape[0] - 1) // block
    cols = (luma.shape[1] - 1) // block
    if rows == 0 or cols == 0 or step < 2:
        return False
    # Whole tiles only, plus one sample for the last differences: no copy to trim later.
    sample = luma[:rows * block + 1:SAMPLE, :cols * block + 1:SAMPLE].astype(np.int16)
    grad = np.abs(sample[:-1, 1:] - sample[:-1, :-1])
    grad += np.abs(sample[1:, :-1] - sample[:-1, :-1])
    # Tile sums (int16 holds 16 x 510) by adding the samples' offsets within a tile: a few
    # whole-array adds, far cheaper than numpy's reductions over short axes.
    within = grad.reshape(rows * step, cols, step)
    across = within[:, :, 0] + within[:, :, 1]
    for k in range(2, step):
        across += within[:, :, k]
    down = across.reshape(rows, step, cols)
    tiles = down[:, 0] + down[:, 1]
    for k in range(2, step):
        tiles += down[:, k]
    for x0, y0, x1, y1 in decoded:
        tiles[max(0, y0 // block - 1):-(-y1 // block) + 1,
              max(0, x0 // block - 1):-(-x1 // block) + 1] = 0
    level = step * step * QUICK_LEVEL
    if np.count_nonzero(tiles >= level) < MIN_BLOCKS:
        return False  # the usual answer; the noise floor below can only raise the bar
    # As in candidates(): a tile must also stand well above the frame's median (sensor noise).
    middle = tiles.size // 2
    level = max(level, 4 * int(np.partition(tiles, middle, axis=None)[middle]))
    return int(np.count_nonzero(tiles >= level)) >= MIN_BLOCKS


def _components(mask: np.ndarray) -> Iterator[list[tuple[int, int]]]:
    seen = np.zeros_like(mask)
    for r0, c0 in zip(*np.nonzero(mask), strict=True):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        todo, cells = [(int(r0), int(c0))], []
        while todo:
            r, c = todo.pop()
            cells.append((r, c))
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if (0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc]
                        and not seen[rr, cc]):
                    seen[rr, cc] = True
                    todo.append((rr, cc))
        yield cells


def _overlap(a: Box, b: Box) -> float:
    """Share of the smaller box's area that the other covers (1: one holds the other)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))
    return max(0, w) * max(0, h) / area


def _upscaled(crop: np.ndarray) -> np.ndarray:
    image = Image.fromarray(crop)
    return np.asarray(image.resize((crop.shape[1] * 2, crop.shape[0] * 2), Image.BICUBIC))


def _stretched(crop: np.ndarray) -> np.ndarray:
    """The region's own dark and light levels (2nd and 98th percentiles) stretched to 0-255,
    so a fixed mid-grey threshold falls between bars and spaces. Motion smears narrow bars
    into mid-grey; a local-average binariser then follows the smear, one threshold does not."""
    lo, hi = np.percentile(crop, (2, 98))
    if hi - lo < 16:
        return crop
    scaled = (crop.astype(np.float32) - float(lo)) * (255.0 / float(hi - lo))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _once(make: Callable[[], np.ndarray | None]) -> Callable[[], np.ndarray | None]:
    """``make`` computed at most once (several steps start from the same image)."""
    done: list[np.ndarray | None] = []

    def get() -> np.ndarray | None:
        if not done:
            done.append(make())
        return done[0]
    return get


def _maybe(transform: Callable[[np.ndarray], np.ndarray | None],
           image: np.ndarray | None) -> np.ndarray | None:
    return None if image is None else transform(np.ascontiguousarray(image))


def _smoothed(crop: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(crop).filter(ImageFilter.GaussianBlur(1.0)))


def _thumb(crop: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(crop).reduce(4)).astype(np.float32)


class _Stack:
    """The last few lores frames, to average the region of a band held still."""

    def __init__(self, depth: int, threshold: float) -> None:
        self.frames: deque[np.ndarray] = deque(maxlen=max(1, depth))
        self.threshold = threshold

    def push(self, luma: np.ndarray) -> None:
        if self.frames and self.frames[-1].shape != luma.shape:
            self.frames.clear()
        self.frames.append(luma)

    def averaged(self, box: Box) -> np.ndarray | None:
        """The mean of the region over the frames it stayed still in (None: fewer than 2)."""
        x0, y0, x1, y1 = box
        newest = np.ascontiguousarray(self.frames[-1][y0:y1, x0:x1])
        thumb = _thumb(newest)
        total, count = newest.astype(np.float32), 1
        for older in list(self.frames)[-2::-1]:
            crop = np.ascontiguousarray(older[y0:y1, x0:x1])
            # Compared as 4x4 block means: sensor noise alone must not count as movement.
            if float(np.mean(np.abs(_thumb(crop) - thumb))) > self.threshold:
                break
            total += crop
            count += 1
        if count < 2:
            return None
        return np.clip(np.rint(total / count), 0, 255).astype(np.uint8)


@dataclass
class LookStats:
    """What the second look did, counted per step name (for the bench and tuning)."""

    frames: int = 0
    regions: int = 0
    reads: dict[str, int] | None = None

    def hit(self, step: str) -> None:
        self.reads = self.reads or {}
        self.reads[step] = self.reads.get(step, 0) + 1


class SecondLook:
    """Decode a frame; when a symbol is seen but not read, look closer there (see above).

    ``primary`` is the station's decoder (a backend with ``decode_seen`` and
    ``with_binarizer``, i.e. zxing-cpp, gets every step; another backend gets the ones it can
    take); ``secondary`` is the other installed backend or None.
    """

    def __init__(self, primary: Any, secondary: _Decoder | None = None,
                 settings: SecondLookSettings | None = None) -> None:
        self.primary = primary
        self.secondary = secondary
        self.settings = settings or SecondLookSettings()
        binarize = getattr(primary, "with_binarizer", None)
        self._global = binarize("global") if binarize else None
        self._fixed = binarize("fixed") if binarize else None
        self._stack = _Stack(self.settings.stack_depth, self.settings.still_threshold)
        self.stats = LookStats()

    def reset(self) -> None:
        """Forget the frames kept for averaging."""
        self._stack.frames.clear()

    def decode(self, frame: Any, *, full_res: FullResCrop | None = None,
               remember: bool = False,
               enough: Callable[[list[SymbolRead]], bool] | None = None) -> list[SymbolRead]:
        """Every symbol found in ``frame``; ``remember`` keeps the frame for averaging with the
        next ones (the scan loop's consecutive frames; never for unrelated images).

        ``enough(found)`` true for what the plain decode read (the reader: a patient band was
        read) skips the edge search, which is most of the cost on a clean frame; symbols the
        decoder found but could not read are still looked at, so a second band in view is
        still seen."""
        luma = as_luma(frame)
        decode_seen = getattr(self.primary, "decode_seen", None)
        if decode_seen is not None:
            found, seen = decode_seen(luma)
        else:
            found, seen = self.primary.decode(luma), []
        if remember:
            self._stack.push(luma)
        self.stats.frames += 1
        done = [s.box for s in found if s.box is not None]
        regions = [_pad(box, luma.shape, 12) for box in seen]
        if (enough is None or not enough(found)) and worth_searching(luma, done):
            regions += [box for _, box in candidates(luma)]
        looked: list[Box] = []
        for box in regions:
            if len(looked) >= self.settings.max_regions:
                break
            if any(_overlap(box, d) > 0.5 for d in done + looked):
                continue
            looked.append(box)
            self.stats.regions += 1
            for symbol in self._look(luma, box, full_res, remember):
                if all((s.symbology, s.text) != (symbol.symbology, symbol.text) for s in found):
                    found.append(symbol)
        return found

    def _look(self, luma: np.ndarray, box: Box, full_res: FullResCrop | None,
              stacked: bool) -> list[SymbolRead]:
        x0, y0, x1, y1 = box
        crop = np.ascontiguousarray(luma[y0:y1, x0:x1])
        for step, make, decoder in self._steps(crop, box, full_res, stacked):
            if decoder is None:
                continue
            image = make()
            if image is None or min(image.shape[:2]) < 8:
                continue
            reads = decoder.decode(np.ascontiguousarray(image))
            if reads:
                self.stats.hit(step)
                return reads
        return []

    def _steps(self, crop: np.ndarray, box: Box, full_res: FullResCrop | None,
               stacked: bool) -> Sequence[tuple[str, Callable[[], Any], Any]]:
        def fetch() -> np.ndarray | None:
            image = full_res(box) if full_res is not None else None
            return None if image is None else as_luma(image)

        hi_res = _once(fetch)  # one fetch per region, however many steps use it
        # The finest pixels there are, for the geometric steps.
        detail = _once(lambda: hi_res() if hi_res() is not None else _upscaled(crop))

        steps: list[tuple[str, Callable[[], Any], Any]]
        if full_res is not None:  # the real pixels beat any guess at them: fewer steps
            steps = [("full-res", hi_res, self.primary),
                     ("full-res-global", hi_res, self._global),
                     ("upscaled", lambda: _upscaled(crop), self.primary)]
        else:
            steps = [("upscaled", lambda: _upscaled(crop), self.primary),
                     ("global-binarizer", lambda: crop, self._global),
                     ("upscaled-global", lambda: _upscaled(crop), self._global),
                     ("smoothed", lambda: _smoothed(crop), self.primary)]
        steps.append(("fixed-threshold", lambda: _stretched(crop), self._fixed))
        straight = _once(lambda: _maybe(deskewed, detail()))
        steps.append(("deskewed", straight, self.primary))
        for wrap in self.settings.wraps:
            steps.append((f"unwrapped-{wrap:g}",
                          lambda wrap=wrap: _maybe(lambda im: unwrapped(im, wrap), straight()),
                          self.primary))
        steps.append(("second-backend", lambda: _upscaled(crop), self.secondary))
        if stacked and self._stack.frames:
            steps.append(("stacked", lambda: self._stack.averaged(box), self._global))
        return steps


def _pad(box: Box, shape: tuple[int, ...], margin: int) -> Box:
    x0, y0, x1, y1 = box
    return (max(0, x0 - margin), max(0, y0 - margin), min(shape[1], x1 + margin),
            min(shape[0], y1 + margin))
