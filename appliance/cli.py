"""``capture-station``: one entry point, one sub-command per job.

Sub-commands live in :mod:`appliance.commands`, one module each, with a ``register`` function;
adding a command means adding a module and naming it in ``COMMAND_MODULES``. Every command
accepts ``--config PATH``; configuration errors end the program with exit status 2 and a
message naming the key.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .config import Config, ConfigError, load_config

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "appliance.commands.run",
    "appliance.commands.doctor",
    "appliance.commands.config",
    "appliance.commands.demo",
    "appliance.commands.scan",
    "appliance.commands.cards",
    "appliance.commands.enrol",
    "appliance.commands.provision",
    "appliance.commands.user",
    "appliance.commands.audit",
)

EXIT_CONFIG = 2


class CommandError(RuntimeError):
    """A command failed in a way the user can fix; the message says how (no traceback)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_config_argument(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capture-station",
        description="Exam-room capture station: scan the wristband, press the button; the "
        "photo is sealed on the station and delivered to the practice.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_config_argument(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def new_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command parser with the shared ``--config`` option."""
    parser = sub.add_parser(name, help=help_text, description=description or help_text)
    add_config_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"capture-station: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CommandError as exc:
        print(f"capture-station: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    # Run the canonical module's main, so command modules (which import `appliance.cli`) and
    # this entry point share one CommandError class.
    from appliance.cli import main as canonical_main

    sys.exit(canonical_main())
