"""``capture-station``: one entry point, one sub-command per job.

Sub-commands live in :mod:`appliance.commands`, one module each, with a ``register`` function;
adding a command means adding a module, importing it here and naming it in ``COMMANDS``. Every
command accepts ``--config PATH``; configuration errors end the program with exit status 2 and
a message naming the key.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from sync.terminal import plain_help, quiet_broken_pipe

from . import __version__
from .commands import audit, cards, demo, doctor, document, enrol, provision, run, scan, user
from .commands import config as config_command
from .commands._common import CommandError, add_config_argument
from .config import ConfigError

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    run, doctor, config_command, demo, scan, cards, document, enrol, provision, user, audit,
)

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (the systemd tests parse the units' ``ExecStart`` with it)."""
    parser = argparse.ArgumentParser(
        prog="capture-station",
        description="Exam-room capture station: scan the wristband, press the button; the "
        "photo is sealed on the station and delivered to the practice.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_config_argument(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return plain_help(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; a reader that closes the pipe early (``| head``) ends it
    quietly with status 141, not a BrokenPipeError traceback."""
    return int(quiet_broken_pipe(lambda: _main(argv)))


def _main(argv: Sequence[str] | None) -> int:
    """Run one sub-command; the exit status says how it went (2: the config is unusable)."""
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
    sys.exit(main())
