"""Document mode on the generated page corpus at full resolution (``make bench``).

``page_ms`` is the median time from a 12 MP JPEG still (4056x3040, the Pi HQ camera's full
frame, with sensor noise so the file is as large as a real one) to a straightened, upright,
black-and-white A4 page at 200 dpi; its baseline is a bare greyscale JPEG decode of the same
stills, timed interleaved in the same run (the pipeline's own first step, which no page
pipeline can skip). ``page_corner_err`` is the mean corner error over the corpus as a share
of the page's diagonal; its baseline is the same figure for the corners found on the
1000-pixel search copy, before refinement. ``page_pdf_kb`` is a one-page PDF of an A4 text
page; its baseline is the same page kept as a greyscale JPEG (``--mode grey``).
``page_keep_ms`` is what the station's document desk spends per page (the pipeline, the
page's encoding for the PDF and, for page 1, the sealed preview); its baseline is
``scan_page`` alone on the same stills.
"""

from __future__ import annotations

import dataclasses
import io
import statistics
import time

import cv2
import numpy as np

from appliance.document_desk import DocumentDesk
from appliance.workflow import TakePage
from capture.fake import render_scene
from documents import Mode, PageNotFoundError, pages_to_pdf, scan_page
from documents.aspect import measured_ratio
from documents.detect import SEARCH_PX, coarse_quad
from tests.bench import Figure
from tests.documents.corpus import BENCH_SIZE, FOUND, REFUSED, PageCase, corner_error

LAST_TABLE = ""
ROUNDS = 3
#: Sensor noise added to every still, so its JPEG has a real camera's size.
SENSOR_NOISE = 4.0


def _still(case: PageCase) -> bytes:
    noisy = dataclasses.replace(case, noise=max(case.noise, SENSOR_NOISE))
    buffer = io.BytesIO()
    render_scene(noisy.scene(), BENCH_SIZE).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _ms(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000.0, out


def _coarse_error(data: bytes, truth: np.ndarray) -> float:
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    height, width = grey.shape
    factor = max(width, height) / SEARCH_PX
    small = cv2.resize(grey, (round(width / factor), round(height / factor)),
                       interpolation=cv2.INTER_AREA)
    quad = coarse_quad(small).scaled(width / small.shape[1])
    return min(corner_error(np.roll(quad.corners, -k, axis=0), truth) for k in range(4))


def run() -> list[Figure]:
    global LAST_TABLE
    stills = {case.name: _still(case) for case in FOUND + REFUSED}
    page_ms, decode_ms, sketch_ms = [], [], []
    pages = {}
    for _ in range(ROUNDS):
        for case in FOUND:
            data = stills[case.name]
            decode_ms.append(_ms(cv2.imdecode, np.frombuffer(data, np.uint8),
                                 cv2.IMREAD_GRAYSCALE)[0])
            elapsed, pages[case.name] = _ms(scan_page, data)
            page_ms.append(elapsed)
    for case in FOUND[:4]:
        sketch_ms.append(_ms(scan_page, stills[case.name], Mode.SKETCH)[0])
    keep_ms, alone_ms = [], []
    desk = DocumentDesk(max_pages=len(FOUND))
    for number, case in enumerate(FOUND[:6], 1):  # interleaved with its baseline
        alone_ms.append(_ms(scan_page, stills[case.name], Mode.TEXT)[0])
        job = TakePage(f"r{number}", "bench", "referral", number)
        keep_ms.append(_ms(desk.add_page, job, stills[case.name],
                           taken_at="2026-01-01T10:00:00.000+00:00")[0])

    rows, errors, coarse, upright, aspect = [], [], [], [], []
    for case in FOUND:
        page, truth = pages[case.name], case.corners(BENCH_SIZE)
        err = corner_error(page.quad.corners, truth)
        errors.append(err)
        coarse.append(_coarse_error(stills[case.name], truth))
        upright.append(page.turns == case.turns)
        ratio = measured_ratio(page.quad, BENCH_SIZE)  # the assumed lens, as in the pipeline
        aspect.append(abs(ratio / (210 / 297) - 1))
        rows.append((case.name, f"{err * 100:.3f}", f"{coarse[-1] * 100:.3f}",
                     f"{aspect[-1] * 100:.2f}", str(page.turns), str(page.paper),
                     f"{len(stills[case.name]) // 1024}"))
    refused = 0
    for case in REFUSED:
        try:
            scan_page(stills[case.name])
        except PageNotFoundError:
            refused += 1
            rows.append((case.name, "refused", "", "", "", "", f"{len(stills[case.name]) // 1024}"))

    text_page = pages[FOUND[1].name]
    pdf_ms, pdf = _ms(pages_to_pdf, [text_page])
    grey_page = scan_page(stills[FOUND[1].name], Mode.GREY)
    grey_kb = len(pages_to_pdf([grey_page])) / 1024

    header = ("case", "corner err %diag", "coarse err %diag", "aspect err %", "turns", "paper",
              "still KB")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"documents: per corpus case at {BENCH_SIZE[0]}x{BENCH_SIZE[1]} (same run)"]
    for i, row in enumerate([header, *rows]):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    LAST_TABLE = "\n".join(lines)

    decode = statistics.median(decode_ms)
    return [
        Figure("page_ms", statistics.median(page_ms), "ms", "<= 250",
               f"bare greyscale JPEG decode {decode:.1f} ms",
               f"p50 over {len(FOUND)} stills x {ROUNDS} rounds, text mode"),
        Figure("page_ms_sketch", statistics.median(sketch_ms), "ms", "",
               f"bare greyscale JPEG decode {decode:.1f} ms", "colour kept"),
        Figure("page_keep_ms", statistics.median(keep_ms), "ms", "",
               f"scan_page alone {statistics.median(alone_ms):.1f} ms",
               f"station desk, {len(keep_ms)} referral pages (encoded, page-1 preview)"),
        Figure("page_corner_err", float(np.mean(errors)), "", "<= 0.01",
               f"coarse corners {np.mean(coarse):.5f}",
               f"max {max(errors):.5f} over {len(FOUND)} stills"),
        Figure("page_pdf_kb", len(pdf) / 1024, "KB", "<= 400",
               f"same page as grey JPEG {grey_kb:.0f} KB", f"A4, 200 dpi, {pdf_ms:.0f} ms"),
        Figure("page_upright_rate", sum(upright) / len(upright), "", ">= 1",
               note=f"{sum(upright)}/{len(upright)} stills turned upright"),
        Figure("page_aspect_err_max", max(aspect), "", "<= 0.04",
               note="assumed lens; snapped to A4 within 0.04"),
        Figure("page_refusal_rate", refused / len(REFUSED), "", ">= 1",
               note=f"{refused}/{len(REFUSED)} partly-out-of-view pages refused"),
    ]
