"""What ``capture-station demo`` shows on its terminal: one line per event a person cares
about, the details only when asked for, and no decrypted photo left behind.

The person at the terminal follows a photo: the patient identified, the photo captured,
delivered to the practice, filed in the patient's folder. Everything else the parts log (each
delivery attempt, audit batches, a candidate address that did not answer, the receiver's
requests) is detail: shown with ``--verbose``, else only when it is a warning or an error --
from this process's loggers and from the receiver's log alike. The level is set at the root
logger and the receiver's stream is read line by line, so nothing is filtered by its text:
a real error still shows.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

Say = Callable[..., None]

#: Log levels of the receiver's lines (its format is ``LEVEL logger: message``) that the
#: terminal shows without ``--verbose``.
SHOWN_LEVELS = ("WARNING", "ERROR", "CRITICAL")
_ALL_LEVELS = ("DEBUG", "INFO", *SHOWN_LEVELS)


def quiet_logging(verbose: bool) -> None:
    """Warnings and errors only, or everything (``--verbose``), for every logger here."""
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)


def relay_receiver_log(stream: IO[str], say: Say, verbose: bool) -> threading.Thread:
    """Read the receiver's stderr to its end (so it never blocks on a full pipe) and show its
    warnings and errors, with their traceback lines, as ``receiver: ...``; all of it with
    ``verbose``."""

    def relay() -> None:
        showing = verbose
        for line in stream:
            word = line.split(" ", 1)[0]
            if word in _ALL_LEVELS:  # a new record; anything else continues the last one
                showing = verbose or word in SHOWN_LEVELS
            if showing:
                say(f"receiver: {line.rstrip()}")

    thread = threading.Thread(target=relay, name="demo-receiver-log", daemon=True)
    thread.start()
    return thread


class EventReporter:
    """Polls the station and the receiver and says each capture's steps once:
    ``captured: ID``, ``delivered: ID``, ``filed: PATH``."""

    def __init__(self, assembly: Any, filed: Callable[[], list[Path]], say: Say,
                 stop: threading.Event, interval: float = 0.3) -> None:
        self._assembly = assembly
        self._filed = filed
        self._say = say
        self._stop = stop
        self._interval = interval
        self._captured: set[str] = set(assembly.station.captured_ids)
        self._delivered: set[str] = self._delivered_now()
        self._seen_files: set[Path] = set(filed())

    def _delivered_now(self) -> set[str]:
        return {c.capture_id for c in self._assembly.vault.list_captures(include_previous=True)
                if c.delivered_at}

    def poll(self) -> None:
        """One look: say what happened since the last."""
        for capture_id in list(self._assembly.station.captured_ids):
            if capture_id not in self._captured:
                self._captured.add(capture_id)
                self._say(f"captured: {capture_id} (sealed on the station)")
        for capture_id in sorted(self._delivered_now() - self._delivered):
            self._delivered.add(capture_id)
            self._say(f"delivered: {capture_id} (receipt from the practice)")
        for path in self._filed():
            if path not in self._seen_files:
                self._seen_files.add(path)
                self._say(f"filed: {path}")

    def start(self) -> threading.Thread:
        def watch() -> None:
            while not self._stop.wait(self._interval):
                self.poll()

        thread = threading.Thread(target=watch, name="demo-events", daemon=True)
        thread.start()
        return thread


def remove_workdir(workdir: Path, say: Say) -> None:
    """Delete the demo's temporary folder: it holds the receiver's decrypted photos."""
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():
        say(f"could not remove {workdir} completely; it holds decrypted demo photos: delete it")
    else:
        say(f"removed {workdir} (the demo's photos and keys)")
