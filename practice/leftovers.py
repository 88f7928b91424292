"""What a killed practice server leaves behind: temporary files, removed at the next start.

Every durable write goes through :mod:`sync.durable`: the bytes go to a hidden temp file
beside the target (``.<name>.<pid>.<random>.tmp``), which is fsynced and renamed into place.
A SIGKILL or a power cut between the two leaves the temp file: plaintext of a capture in a
patient folder, possibly truncated, and nothing ever removed it. :func:`remove_leftover_temps`
runs when ``serve`` (or ``forward``) opens the data directory for writing.

A temp file whose writer is still running (its pid, in the name, is alive: another command
working on the same directory right now) is left alone; only a dead writer's are removed.
Nothing reads temp names in the meantime: the patient file, its index and the UI only know
files by their final names (see ``practice.patientfile.rebuild``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sync.durable import TEMP_SUFFIX, is_temp_name, remove_durably

log = logging.getLogger(__name__)


def writer_alive(name: str) -> bool:
    """Whether the process that made temp file ``name`` still runs (unknown pid: no)."""
    parts = name.removesuffix(TEMP_SUFFIX).rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 9:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, under another user
        return True
    return True


def remove_leftover_temps(data_dir: Path) -> int:
    """Remove every temp file a dead writer left anywhere under ``data_dir``; the count.

    The count is logged, never the names (they hold patient folder names).
    """
    removed = 0
    for root, _dirs, files in os.walk(data_dir):  # symlinked directories are not followed
        for name in files:
            if is_temp_name(name) and not writer_alive(name):
                removed += remove_durably(Path(root) / name)
    if removed:
        log.warning("removed %d temporary file(s) left by an interrupted write", removed)
    return removed
