"""``capture-station audit verify | show``: check the hash chain of the audit log, or read it.

``verify`` exits 0 when every line chains to the one before, 1 with the number of the first
broken line otherwise (an edited, removed, reordered or torn line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.audit import describe, format_record, tail, verify

from ..paths import StatePaths
from ._common import CommandError, add_config_argument, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "audit", "verify or show the hash-chained audit log", __doc__)
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check the hash chain; non-zero exit if broken")
    check.add_argument("--file", type=Path, metavar="PATH",
                       help="audit log to check (default: the one in [station] state_dir)")
    add_config_argument(check)
    check.set_defaults(func=run_verify)
    show = actions.add_parser("show", help="print the last records")
    show.add_argument("--file", type=Path, metavar="PATH")
    show.add_argument("-n", "--last", type=int, default=20, help="how many (default 20)")
    add_config_argument(show)
    show.set_defaults(func=run_show)


def _path(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return args.file
    return StatePaths(get_config(args).state_dir).audit_log


def run_verify(args: argparse.Namespace) -> int:
    path = _path(args)
    result = verify(path)
    if not result.ok:
        raise CommandError(describe(path, result))
    print(describe(path, result))
    return 0


def run_show(args: argparse.Namespace) -> int:
    path = _path(args)
    try:
        entries = tail(path, args.last)
    except FileNotFoundError:
        raise CommandError(f"no audit log at {path}") from None
    for entry in entries:
        print(format_record(entry))
    return 0
