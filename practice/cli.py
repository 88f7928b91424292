"""``capture-receiver``: the practice side. Sub-commands live in :mod:`practice.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from sync.terminal import plain_help, quiet_broken_pipe

from .commands import audit, export, forward, init, serve, stations, token, user
from .commands import open as open_command
from .commands._common import ReceiverCommandError

#: Sub-command modules, each with ``register(subparsers)``, in the order ``--help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (init, open_command, serve, token, stations, forward,
                                    export, user, audit)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (the systemd tests parse the unit's ``ExecStart`` with it)."""
    parser = argparse.ArgumentParser(
        prog="capture-receiver",
        description="Practice-side receiver: enrols stations, accepts sealed captures, files "
        "them per patient.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return plain_help(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; a reader that closes the pipe early (``| head``) ends it
    quietly with status 141, not a BrokenPipeError traceback."""
    return int(quiet_broken_pipe(lambda: _main(argv)))


def _main(argv: Sequence[str] | None) -> int:
    """Run one sub-command; without one, print the help and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ReceiverCommandError as exc:
        print(f"capture-receiver: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
