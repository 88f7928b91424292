"""Run every ``tests/bench/bench_*.py``; print a table; write one JSON object to $BENCH_OUT.

Usage: ``python -m tests.bench [NAME ...]`` (names filter modules, e.g. ``vault``).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

from tests.bench import Figure


def _modules(filters: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if filters:
        names = [n for n in names if any(f in n for f in filters)]
    return names


def main(argv: list[str]) -> int:
    out = Path(os.environ.get("BENCH_OUT", "bench-results.json"))
    figures: list[Figure] = []
    tables: list[str] = []
    for name in _modules(argv):
        module = importlib.import_module(f"tests.bench.{name}")
        started = time.perf_counter()
        result = module.run()
        figures += result
        extra = getattr(module, "LAST_TABLE", "")
        if extra:
            tables.append(extra)
        print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows = [("figure", "value", "unit", "goal", "met", "baseline (same run)")]
    for f in figures:
        met = {None: "", True: "yes", False: "NO"}[f.meets_goal]
        rows.append((f.name, f"{f.value:.4g}", f.unit, f.goal, met, f.baseline))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for table in tables:
        print()
        print(table)
    out.write_text(json.dumps({f.name: f.value for f in figures}, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {len(figures)} figures to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
