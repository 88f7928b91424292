"""``capture-receiver user {add,list,remove,passwd,role,hash}``: practice web UI accounts.

Roles: clinician, records (records officer), admin -- each can do what the one before can
(see :mod:`practice.accounts`). The actions, options and password rules are the station's
(:mod:`websecurity.usercli`); every change is written to the practice audit log as done
``by=console``.
"""

from __future__ import annotations

import argparse

from websecurity.usercli import UserCommandError, add_actions, run_action

from ..accounts import ROLES, open_accounts
from ..audit import PracticeAudit
from ._common import ReceiverCommandError, add_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("user", help="manage practice web UI accounts",
                            description=__doc__)
    add_data_dir(parser)
    add_actions(parser, ROLES, program="capture-receiver")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.data_dir.is_dir():
        raise ReceiverCommandError(f"no data directory {args.data_dir} (run `capture-receiver "
                                   "init` first)")
    try:
        accounts = open_accounts(args.data_dir)
        return run_action(args, accounts, lambda event, **f: _audit(args, event, **f),
                          program="capture-receiver", event_prefix="")
    except UserCommandError as exc:
        raise ReceiverCommandError(str(exc)) from None


def _audit(args: argparse.Namespace, event: str, **fields: object) -> None:
    with PracticeAudit(args.data_dir) as audit:
        audit.record(event.replace("user_", "user.", 1), by=None, **fields)
