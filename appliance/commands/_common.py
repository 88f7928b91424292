"""What every ``capture-station`` sub-command shares: its error type and the ``--config`` option.

It lives here, not in :mod:`appliance.cli`, so the CLI imports the commands and no command
imports the CLI: one ``CommandError`` class however the program was started (the
``capture-station`` script or ``python -m appliance.cli``).
"""

from __future__ import annotations

import argparse

from ..config import Config, load_config
from ..errors import StationError


class CommandError(StationError, RuntimeError):
    """A command failed in a way the user can fix; the message says how (no traceback)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_config_argument(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--config PATH``; on a sub-command it is suppressed when absent, so a ``--config``
    given before the sub-command is not overwritten by the sub-command's default."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="station config file (default: $CAPTURE_STATION_CONFIG or "
        "/etc/capture-station/station.toml)",
    )


def get_config(args: argparse.Namespace) -> Config:
    """Load the config named on the command line (cached on ``args``)."""
    cached = getattr(args, "_config", None)
    if cached is None:
        cached = load_config(args.config)
        args._config = cached
    return cached


def new_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command parser with the shared ``--config`` option."""
    parser = sub.add_parser(name, help=help_text, description=description or help_text)
    add_config_argument(parser)
    return parser
