"""Barcode reading speed and read rate on the generated corpus (``make bench``).

``decode_ms_640`` is the median time per 640x480 preview frame through the full reader
(decode, interpret, event logic) with the default config; ``decode_overhead_ratio`` divides
it by a bare ``zxingcpp.read_barcodes`` call with the same formats and text mode on the same
frames, timed interleaved in the same run, so the ratio is what the station adds on top of
the decoder. The table gives, per backend and symbology, the time per frame and the share of
corpus frames read exactly as expected.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict

import zxingcpp

from appliance.config import Config, defaults
from barcode.reader import build_reader
from tests.barcode.corpus import BACKEND_SYMBOLOGIES, LOCAL_FORMATS, all_cases, frame
from tests.bench import Figure

LAST_TABLE = ""
ROUNDS = 15


def _matches(results, case) -> bool:
    json_results = [r.as_json() for r in results]
    return len(json_results) == len(case.expected) and all(
        any(e.matches(r) for r in json_results) for e in case.expected)


def _timed(fn, arg) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn(arg)
    return (time.perf_counter() - started) * 1000.0, out


def run() -> list[Figure]:
    global LAST_TABLE
    cases = all_cases()
    for case in cases:  # render outside the timed loops
        frame(case)

    cfg = Config(defaults(), "defaults")
    reader = build_reader(cfg.barcode, cfg.workflow.body_sites)
    options = dict(reader.backend.read_options)  # same formats and text mode as the backend
    frames_640 = [frame(c) for c in cases if c.size == "640"]
    full, bare = [], []
    for _ in range(ROUNDS):
        for luma in frames_640:
            full.append(_timed(reader.feed, luma)[0])
            bare.append(_timed(lambda f: zxingcpp.read_barcodes(f, **options), luma)[0])
    full_ms, bare_ms = statistics.median(full), statistics.median(bare)

    # Per backend and symbology: time and read rate, with the corpus's local formats.
    rows = []
    rates: dict[str, list[bool]] = defaultdict(list)
    for backend in BACKEND_SYMBOLOGIES:
        r = build_reader({"backends": [backend], "local_formats": LOCAL_FORMATS},
                         cfg.workflow.body_sites)
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for case in cases:
            if case.readable_by(backend) and len(case.symbologies) == 1:
                groups[(next(iter(case.symbologies)), case.size)].append(case)
        for (symbology, size), group in sorted(groups.items()):
            times, ok = [], []
            for _ in range(5):
                for case in group:
                    times.append(_timed(r.read_frame, frame(case))[0])
            for case in group:
                ok.append(_matches(r.read_frame(frame(case)), case))
            rates[backend] += ok
            rows.append((backend, symbology, size, str(len(group)),
                         f"{statistics.median(times):.2f}", f"{sum(ok)}/{len(ok)}"))
    header = ("backend", "symbology", "preview", "frames", "median ms", "read")
    widths = [max(len(x[i]) for x in [header, *rows]) for i in range(len(header))]
    lines = ["barcode: per backend and symbology (corpus frames, same run)"]
    for i, row in enumerate([header, *rows]):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    LAST_TABLE = "\n".join(lines)

    figures = [
        Figure("decode_ms_640", full_ms, "ms", "<= 10",
               f"bare zxing-cpp {bare_ms:.2f} ms",
               f"median over {len(frames_640)} frames x {ROUNDS} rounds, full reader"),
        Figure("decode_overhead_ratio", full_ms / bare_ms, "x", "<= 1.3",
               f"bare zxing-cpp {bare_ms:.2f} ms"),
    ]
    for backend, ok in rates.items():
        figures.append(Figure(f"barcode_read_rate_{backend.replace('-', '_')}",
                              sum(ok) / len(ok), "", ">= 1",
                              note=f"{sum(ok)}/{len(ok)} corpus frames"))
    return figures
