"""``capture-receiver``: the practice side. Sub-commands live in :mod:`practice.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Sub-command modules, each with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "practice.commands.init",
    "practice.commands.open",
    "practice.commands.serve",
    "practice.commands.token",
    "practice.commands.stations",
)


class ReceiverCommandError(RuntimeError):
    """A command failed in a way the user can fix; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capture-receiver",
        description="Practice-side receiver: enrols stations, accepts sealed captures, files "
        "them per patient.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
