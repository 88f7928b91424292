"""Fixtures shared by the station, sync and practice tests: running receivers, a thread-leak check.

The leak check follows python-zeroconf's own test suite: every thread a test starts
(HTTPS workers, zeroconf engines, the sync worker) must be gone when it ends, or a
long-running station would slowly accumulate them.

Hypothesis: under CI (``CI`` set) the property tests run derandomized, so a landing is judged
on the same examples every time and a failure can be reproduced; everywhere else they explore
new examples each run (and keep what failed in ``.hypothesis/``), which is how they find bugs.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from hypothesis import settings

from tests.sync.helpers import start_receiver

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def no_thread_leaks():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture
def receiver(tmp_path):
    running = start_receiver(tmp_path / "receiver")
    yield running
    running.stop()
