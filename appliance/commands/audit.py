"""``capture-station audit verify | show``: check the hash chain of the audit log, or read it.

``verify`` exits 0 when every line chains to the one before, 1 with the number of the first
broken line otherwise (an edited, removed, reordered or torn line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.audit import show_report, verify_report

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
    ok, report = verify_report(_path(args))
    if not ok:
        raise CommandError(report)
    print(report)
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        lines = show_report(_path(args), args.last)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    for line in lines:
        print(line)
    return 0
