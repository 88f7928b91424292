"""The soak run against the real processes (see tests/soak/harness.py for what it does).

``test_every_fault_once`` is the short version in ``make test`` (about a minute: each fault
once). ``make soak`` runs ``test_soak`` for ``SOAK_MINUTES`` (random faults after the first
round) and writes the figures to ``SOAK_OUT`` (docs/reliability.md shows them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.soak.harness import Report, Soak

pytestmark = pytest.mark.slow


def _run(seconds: float, seed: int) -> Report:
    # A short path: the station's control socket lives in its state directory.
    workdir = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))
    soak = Soak(workdir, seconds=seconds, seed=seed)
    try:
        report = soak.run()
    finally:
        soak.unmount()
    print(report.as_json())
    if not report.problems:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}")
    return report


def _check(report: Report) -> None:
    assert report.problems == []
    assert (report.lost, report.duplicated, report.half_written, report.integrity_errors,
            report.wedged, report.watchdog_restarts) == (0, 0, 0, 0, 0, 0)
    assert report.station_audit_ok and report.receiver_audit_ok and report.databases_ok
    assert report.acknowledged >= 10
    assert report.station_kills >= 3 and report.receiver_kills >= 3
    assert report.drain_seconds  # the receiver came back and the backlog drained


def test_every_fault_once():
    _check(_run(0, seed=19))


@pytest.mark.soak
@pytest.mark.skipif(not os.environ.get("SOAK_MINUTES"), reason="`make soak` sets SOAK_MINUTES")
def test_soak():
    minutes = float(os.environ["SOAK_MINUTES"])
    report = _run(minutes * 60, seed=int(os.environ.get("SOAK_SEED", "19")))
    Path(os.environ.get("SOAK_OUT", "soak-results.json")).write_text(report.as_json() + "\n")
    _check(report)
