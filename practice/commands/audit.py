"""``capture-receiver audit verify | show``: check the hash chain of the practice audit log,
or read it (the station's ``capture-station audit`` does the same for its own log).

``verify`` exits 0 when every line chains to the one before, 1 with the number of the first
broken line otherwise (an edited, removed, reordered or torn line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.audit import show_report, verify_report

from ..audit import audit_path
from ._common import ReceiverCommandError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="verify or show the practice audit log",
                            description=__doc__)
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check the hash chain; non-zero exit if broken")
    _where(check)
    check.set_defaults(func=run_verify)
    show = actions.add_parser("show", help="print the last records")
    _where(show)
    show.add_argument("-n", "--last", type=int, default=20, help="how many (default 20)")
    show.set_defaults(func=run_show)


def _where(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="the receiver's data directory (its practice-audit.log)")
    group.add_argument("--file", type=Path, metavar="PATH", help="an audit log file")


def _path(args: argparse.Namespace) -> Path:
    return args.file if args.file is not None else audit_path(args.data_dir)


def run_verify(args: argparse.Namespace) -> int:
    ok, report = verify_report(_path(args))
    if not ok:
        raise ReceiverCommandError(report)
    print(report)
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        lines = show_report(_path(args), args.last)
    except FileNotFoundError as exc:
        raise ReceiverCommandError(str(exc)) from None
    for line in lines:
        print(line)
    return 0
