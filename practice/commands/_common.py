"""What the receiver's sub-commands share: their error type, the data-dir option, the keys.

It lives here, not in :mod:`practice.cli`, so the CLI imports the commands and no command
imports the CLI: one ``ReceiverCommandError`` class however the program was started (the
``capture-receiver`` script or ``python -m practice.cli``, as the demo does).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PracticeError
from ..keys import ReceiverKeys, ReceiverKeysError


class ReceiverCommandError(PracticeError, RuntimeError):
    """A command failed in a way the user can fix; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                        help="the receiver's data directory (created by `init`)")


def load_keys(data_dir: Path) -> ReceiverKeys:
    """The receiver's keys, or a :class:`ReceiverCommandError` saying what is wrong."""
    try:
        return ReceiverKeys.load(data_dir)
    except ReceiverKeysError as exc:
        raise ReceiverCommandError(str(exc)) from None
