"""The fake set-up's seams for scripts: the control socket's station commands and a wall
clock that can be stepped.

Present only when ``capture-station run`` is configured with the fake camera *and* mock pins
(see :func:`wanted`): a development machine or the soak harness (tests/soak), never a Pi.

* ``status`` answers the station's state as JSON (workflow state and signal, stalled threads,
  outbox counts, captures acknowledged since start, the receiver's state) -- what a script
  needs to tell "acknowledged" from "refused" and a serving station from a wedged one.
* ``clock <seconds>`` steps the station's wall clock to the real time plus ``seconds``, as
  NTP does after a Pi booted with a wrong clock. Stepping the real clock of a shared machine
  is not safe, so the vault, the audit log and the sync worker use this clock instead; the
  monotonic clock stays real, as on a Pi. The offset is kept in the state directory, so it
  survives a restart like a stepped clock would.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from sync.durable import write_durably

from .config import Config

log = logging.getLogger("capture_station.fakerig")

#: The wall-clock offset of the fake set-up, in seconds (a decimal number on one line).
OFFSET_FILE = "fake-clock-offset"


def wanted(cfg: Config) -> bool:
    """The fake camera with mock pins: nothing in a room can show or press anything."""
    return cfg.camera.backend == "fake" and cfg.gpio.pin_factory == "mock"


class SteppableClock:
    """``time.time()`` plus an offset that a script may change at any moment."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / OFFSET_FILE
        self.offset = 0.0
        try:
            value = float(self.path.read_text().strip() or 0)
            self.offset = value if math.isfinite(value) else 0.0
        except (OSError, ValueError):
            self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def step_to(self, offset: float) -> None:
        if not math.isfinite(offset):
            raise ValueError("the clock offset must be a finite number of seconds")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(self.path, f"{offset}\n".encode(), 0o600)
        self.offset = offset
        log.warning("fake set-up: wall clock stepped to real time %+.0f s", offset)


def status_handler(assembly: Any) -> Any:
    """The ``status`` command over a running :class:`~appliance.compose.Assembly`."""

    def status(_words: list[str]) -> str:
        station, vault, worker = assembly.station, assembly.vault, assembly.sync_worker
        snapshot = station.workflow.snapshot()
        return json.dumps({
            "state": snapshot["state"],
            "signal": snapshot["signal"],
            "session": (snapshot["session"] or {}).get("session_id"),
            "consent": (snapshot["session"] or {}).get("consent"),
            "stalled": station.stalled(),
            "captured": list(station.captured_ids),
            "pending": vault.pending_count(),
            "counts": vault.counts(),
            "receiver": worker.receiver_state if worker is not None else "not enrolled",
        }, separators=(",", ":"))

    return status


def clock_handler(clock: SteppableClock) -> Any:
    def step(words: list[str]) -> str:
        if words:
            clock.step_to(float(words[0]))
        return f"{clock.offset:+.3f}"

    return step


def attach(assembly: Any, clock: SteppableClock) -> Any:
    """Start the control socket for ``assembly``; returns it (``close()`` on stop), or None
    when the socket cannot be made (the station runs on without it)."""
    from capture.fake import FakeCamera
    from capture.fake_control import SOCKET_NAME, FakeControlServer

    camera = assembly.camera
    button = assembly.station.button
    if not isinstance(camera, FakeCamera) or button is None:
        return None
    try:
        return FakeControlServer(
            assembly.paths.root / SOCKET_NAME, camera, button.pin,
            hold_seconds=assembly.cfg.gpio.hold_seconds,
            handlers={"status": status_handler(assembly), "clock": clock_handler(clock)})
    except OSError as exc:
        log.warning("fake control socket not available: %s", exc.strerror or exc)
        return None
