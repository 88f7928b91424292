"""``capture-station user {add,list,remove,passwd,role,hash}``: web UI accounts on the console.

This is how the first admin is made when provisioning did not (there is no default account),
and how IT recovers when every admin has forgotten their password. Passwords are read without
echo, or from stdin with ``--password-stdin`` (scripts), or generated with ``--generate``
(printed once, one-time: the user must change it at first sign-in). Every change is written to
the station's audit log as done ``by=console``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path

from websecurity.accounts import AccountError, Accounts, check_password

from ..paths import StatePaths
from ..web.accounts import ROLES, accounts_path, open_accounts
from ._common import CommandError, get_config, new_command

#: Generated passwords: 4 groups of 5 from an alphabet without look-alikes (about 100 bits).
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "user", "manage web UI accounts (add, list, remove, passwd)",
                         "Manage the accounts of the local review UI. Roles: nurse, reviewer, "
                         "admin (each can do what the one before can).")
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    _password_options(add)
    add.add_argument("--password-hash", metavar="HASH",
                     help="an Argon2id hash (from `capture-station user hash`) instead of a "
                     "password")

    actions.add_parser("list", help="list accounts (no passwords, no hashes)")

    remove = actions.add_parser("remove", help="delete an account (not the last admin)")
    remove.add_argument("name")

    passwd = actions.add_parser("passwd", help="set a new password for an account")
    passwd.add_argument("name")
    _password_options(passwd)

    role = actions.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)

    hashp = actions.add_parser("hash", help="print the Argon2id hash of a password (for a "
                               "provisioning file); touches no account")
    hashp.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of stdin")
    parser.set_defaults(func=run)


def _password_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of stdin")
    group.add_argument("--generate", action="store_true",
                       help="generate a one-time password and print it once")
    parser.add_argument("--one-time", action="store_true",
                        help="the user must choose a new password at first sign-in")


def generate_password() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


def _read_password(args: argparse.Namespace, name: str = "") -> str:
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        if not line:
            raise CommandError("no password on stdin")
        password = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CommandError("stdin is not a terminal: use --password-stdin or --generate")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the two passwords differ")
    try:
        return check_password(password, name)
    except AccountError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    cfg = get_config(args)
    paths = StatePaths(cfg.state_dir)
    if args.user_action == "hash":
        print(Accounts.hash_only(_read_password(args)))
        return 0
    path = accounts_path(paths)
    accounts = open_accounts(paths)
    try:
        return _run(args, accounts, paths)
    except AccountError as exc:
        raise CommandError(str(exc)) from None
    finally:
        _match_owner(paths.root, [path, path.with_name(path.name + "-wal"),
                                  path.with_name(path.name + "-shm"), paths.audit_log])


def _run(args: argparse.Namespace, accounts: Accounts, paths: StatePaths) -> int:
    action = args.user_action
    if action == "list":
        users = accounts.list()
        if not users:
            print("no accounts (add the first admin: capture-station user add NAME "
                  "--role admin)")
        for u in users:
            state = "one-time password" if u.must_change_password else \
                f"password set {u.password_changed_at[:10]}"
            print(f"{u.name:<24} {u.role:<9} {state}")
        return 0
    if action == "add":
        if args.password_hash:
            if args.password_stdin or args.generate:
                raise CommandError("--password-hash cannot be combined with other password "
                                   "options")
            accounts.add(args.name, args.role, password_hash=args.password_hash,
                         one_time=args.one_time)
        else:
            password, one_time = _new_password(args)
            accounts.add(args.name, args.role, password=password, one_time=one_time)
        _audit(paths, "web.user_added", user=args.name, role=args.role)
        print(f"added {args.name} ({args.role})")
        return 0
    if action == "remove":
        accounts.remove(args.name)
        _audit(paths, "web.user_removed", user=args.name)
        print(f"removed {args.name}; any open web session of theirs ends at its next request")
        return 0
    if action == "passwd":
        if accounts.get(args.name) is None:
            raise CommandError(f"no user {args.name!r}")
        password, one_time = _new_password(args)
        accounts.set_password(args.name, password, one_time=one_time)
        _audit(paths, "web.user_password_reset", user=args.name)
        print(f"password of {args.name} changed")
        return 0
    if action == "role":
        accounts.set_role(args.name, args.role)
        _audit(paths, "web.user_role_changed", user=args.name, role=args.role)
        print(f"{args.name} is now {args.role}")
        return 0
    raise CommandError(f"unknown action {action}")  # argparse prevents this


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.generate:
        password = generate_password()
        print(f"one-time password: {password}")
        return password, True
    return _read_password(args, args.name), args.one_time


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
