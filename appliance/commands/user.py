"""``capture-station user {add,list,remove,passwd,role,hash}``: web UI accounts on the console.

This is how the first admin is made when provisioning did not (there is no default account),
and how IT recovers when every admin has forgotten their password. Passwords are read without
echo, or from stdin with ``--password-stdin`` (scripts), or generated with ``--generate``
(printed once, one-time: the user must change it at first sign-in). Every change is written to
the station's audit log as done ``by=console``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from websecurity.usercli import UserCommandError, add_actions, hash_action, run_action

from ..paths import StatePaths
from ..web.accounts import ROLES, accounts_path, open_accounts
from ._common import CommandError, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "user", "manage web UI accounts (add, list, remove, passwd)",
                         "Manage the accounts of the local review UI. Roles: nurse, reviewer, "
                         "admin (each can do what the one before can).")
    add_actions(parser, ROLES, program="capture-station")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = get_config(args)
    paths = StatePaths(cfg.state_dir)
    try:
        if args.user_action == "hash":
            return hash_action(args)
        path = accounts_path(paths)
        accounts = open_accounts(paths)
        try:
            return run_action(args, accounts, lambda event, **f: _audit(paths, event, **f),
                              program="capture-station", event_prefix="web.")
        finally:
            _match_owner(paths.root, [path, path.with_name(path.name + "-wal"),
                                      path.with_name(path.name + "-shm"), paths.audit_log])
    except UserCommandError as exc:
        raise CommandError(str(exc)) from None


def _audit(paths: StatePaths, event: str, **fields: object) -> None:
    from ..vault.audit import AuditLog

    with AuditLog(paths.audit_log) as log:
        log.record(event, by="console", **fields)


def _match_owner(root: Path, files: list[Path]) -> None:
    """Run as root on a station, files we create must belong to the station's user."""
    if os.geteuid() != 0:
        return
    try:
        owner = root.stat()
    except OSError:
        return
    for f in files:
        try:
            if f.exists() and (f.stat().st_uid, f.stat().st_gid) != (owner.st_uid,
                                                                   owner.st_gid):
                os.chown(f, owner.st_uid, owner.st_gid)
        except OSError:
            pass
