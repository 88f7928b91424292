"""Benchmarks (``make bench``), not run by ``make test``.

Each ``bench_*.py`` module here has ``run() -> list[Figure]``. A figure is measured together
with its baseline *in the same run* (never against a number from another machine or day), and
carries its goal so the table says at a glance what holds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str = ""
    goal: str = ""  # e.g. "<= 10" or ">= 0.8"; empty when informational
    baseline: str = ""  # what the figure was compared against, with its value
    note: str = ""

    @property
    def meets_goal(self) -> bool | None:
        if not self.goal:
            return None
        op, _, limit = self.goal.partition(" ")
        bound = float(limit)
        return self.value <= bound if op == "<=" else self.value >= bound
