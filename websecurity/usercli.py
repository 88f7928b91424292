"""The console side of web UI accounts, shared by ``capture-station user`` and
``capture-receiver user``: the same actions, options, password rules and messages.

Each program registers the actions on its own ``user`` sub-parser with :func:`add_actions`
(its :class:`~websecurity.accounts.Roles` give the ``--role`` choices), opens its own
:class:`~websecurity.accounts.Accounts`, and calls :func:`run_action` with an ``audit``
callback that writes ``event`` + fields to its own audit log (``by=console`` is the caller's
to add). Failures the user can fix raise :class:`UserCommandError` (a message, no
traceback); each CLI turns it into its own command error.

Passwords are read without echo, from stdin with ``--password-stdin`` (scripts), or
generated with ``--generate`` (printed once, one-time: changed at first sign-in).
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable

from .accounts import AccountError, Accounts, Roles, check_password
from .errors import WebSecurityError

#: Generated passwords, the one style of every command that makes one (``user --generate``,
#: ``capture-receiver init`` and ``token``, the demo): 4 groups of 5 from lower-case letters
#: and digits without look-alikes (no 0/o, 1/l/i), about 97 bits, easy to read aloud or type.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
Audit = Callable[..., None]


class UserCommandError(WebSecurityError, ValueError):
    """The account command cannot be done; the message says why (never a password)."""


def generate_password() -> str:
    """A new random password in the one generated style (see :data:`ALPHABET`)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


def add_actions(parser: argparse.ArgumentParser, roles: Roles, *, program: str) -> None:
    """``add``, ``list``, ``remove``, ``passwd``, ``role`` and ``hash`` under ``parser``."""
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=tuple(roles))
    _password_options(add)
    add.add_argument("--password-hash", metavar="HASH",
                     help=f"an Argon2id hash (from `{program} user hash`) instead of a "
                     "password")
    actions.add_parser("list", help="list accounts (no passwords, no hashes)")
    remove = actions.add_parser("remove", help="delete an account (not the last admin)")
    remove.add_argument("name")
    passwd = actions.add_parser("passwd", help="set a new password for an account")
    passwd.add_argument("name")
    _password_options(passwd)
    role = actions.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=tuple(roles))
    hashp = actions.add_parser("hash", help="print the Argon2id hash of a password (for a "
                               "provisioning file); touches no account")
    hashp.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of stdin")


def _password_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of stdin")
    group.add_argument("--generate", action="store_true",
                       help="generate a one-time password and print it once")
    parser.add_argument("--one-time", action="store_true",
                        help="the user must choose a new password at first sign-in")


def read_password(args: argparse.Namespace, name: str = "") -> str:
    """The new password from stdin (``--password-stdin``) or typed twice at the terminal."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        if not line:
            raise UserCommandError("no password on stdin")
        password = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UserCommandError("stdin is not a terminal: use --password-stdin or "
                                   "--generate")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UserCommandError("the two passwords differ")
    try:
        return check_password(password, name)
    except AccountError as exc:
        raise UserCommandError(str(exc)) from None


def hash_action(args: argparse.Namespace) -> int:
    """``user hash``: needs no account store."""
    print(Accounts.hash_only(read_password(args)))
    return 0


def run_action(args: argparse.Namespace, accounts: Accounts, audit: Audit, *,
               program: str, event_prefix: str) -> int:
    """Do ``args.user_action`` on ``accounts``; ``audit(event, **fields)`` records each
    change as ``<event_prefix>user_added`` etc."""
    try:
        return _run(args, accounts, audit, program, event_prefix)
    except AccountError as exc:
        raise UserCommandError(str(exc)) from None


def _run(args: argparse.Namespace, accounts: Accounts, audit: Audit, program: str,
         prefix: str) -> int:
    action = args.user_action
    if action == "hash":
        return hash_action(args)
    if action == "list":
        users = accounts.list()
        if not users:
            print(f"no accounts (add the first admin: {program} user add NAME "
                  f"--role {accounts.roles.admin})")
        for u in users:
            state = "one-time password" if u.must_change_password else \
                f"password set {u.password_changed_at[:10]}"
            print(f"{u.name:<24} {u.role:<9} {state}")
        return 0
    if action == "add":
        if args.password_hash:
            if args.password_stdin or args.generate:
                raise UserCommandError("--password-hash cannot be combined with other "
                                       "password options")
            accounts.add(args.name, args.role, password_hash=args.password_hash,
                         one_time=args.one_time)
        else:
            password, one_time = new_password(args)
            accounts.add(args.name, args.role, password=password, one_time=one_time)
        audit(f"{prefix}user_added", user=args.name, role=args.role)
        print(f"added {args.name} ({args.role})")
        return 0
    if action == "remove":
        accounts.remove(args.name)
        audit(f"{prefix}user_removed", user=args.name)
        print(f"removed {args.name}; any open web session of theirs ends at its next request")
        return 0
    if action == "passwd":
        if accounts.get(args.name) is None:
            raise UserCommandError(f"no user {args.name!r}")
        password, one_time = new_password(args)
        accounts.set_password(args.name, password, one_time=one_time)
        audit(f"{prefix}user_password_reset", user=args.name)
        print(f"password of {args.name} changed")
        return 0
    if action == "role":
        accounts.set_role(args.name, args.role)
        audit(f"{prefix}user_role_changed", user=args.name, role=args.role)
        print(f"{args.name} is now {args.role}")
        return 0
    raise UserCommandError(f"unknown action {action}")  # argparse prevents this


def new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, one-time?) from ``--generate`` (printed once) or :func:`read_password`."""
    if args.generate:
        password = generate_password()
        print(f"one-time password: {password}")
        return password, True
    return read_password(args, args.name), args.one_time
