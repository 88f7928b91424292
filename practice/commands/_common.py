"""Helpers shared by the receiver's sub-commands: the data-dir option and loading the keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import ReceiverCommandError
from ..keys import ReceiverKeys, ReceiverKeysError


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                        help="the receiver's data directory (created by `init`)")


def load_keys(data_dir: Path) -> ReceiverKeys:
    try:
        return ReceiverKeys.load(data_dir)
    except ReceiverKeysError as exc:
        raise ReceiverCommandError(str(exc)) from None
