"""``capture-receiver init``: create the receiver's keys once (practice, receipt, TLS), and
the practice web UI's first admin with a one-time password (printed once).

Refuses to touch an existing key set: every station seals to the practice key, so replacing it
would make everything already sealed (and everything still queued on stations) unopenable.
Prints what IT needs next: the receiver name and the TLS pin for provisioning.
"""

from __future__ import annotations

import argparse
import base64
import re
import socket

from websecurity.accounts import AccountError
from websecurity.usercli import generate_password

from ..accounts import ROLES, open_accounts
from ..audit import PracticeAudit
from ..keys import ReceiverKeys, ReceiverKeysError
from ._common import ReceiverCommandError, add_data_dir


def default_name() -> str:
    """The host name's first label, made a valid receiver name (or ``capture-receiver``)."""
    label = socket.gethostname().split(".")[0].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", label).strip("-")[:63].strip("-")
    return label or "capture-receiver"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help="create the receiver's keys (once)",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("--name", default=None, metavar="NAME",
                        help="receiver name for mDNS and the TLS certificate (default: the "
                             "host name)")
    parser.add_argument("--admin", default="admin", metavar="NAME",
                        help="the web UI's first admin account (default: admin); its "
                        "one-time password is printed once")
    parser.set_defaults(func=run)


def first_admin(data_dir, name: str) -> str | None:
    """Create the first admin with a one-time password and return it; None if the practice
    already has accounts (``init`` never touches existing ones)."""
    accounts = open_accounts(data_dir)
    if len(accounts):
        return None
    password = generate_password()
    try:
        accounts.add(name, ROLES.admin, password=password, one_time=True)
    except AccountError as exc:
        raise ReceiverCommandError(str(exc)) from None
    with PracticeAudit(data_dir) as audit:
        audit.record("user.added", by=None, user=name, role=ROLES.admin)
    return password


def run(args: argparse.Namespace) -> int:
    name = args.name if args.name is not None else default_name()
    try:
        keys = ReceiverKeys.create(args.data_dir, name)
    except ReceiverKeysError as exc:
        raise ReceiverCommandError(str(exc)) from None
    except OSError as exc:
        raise ReceiverCommandError(f"cannot create keys in {args.data_dir}: "
                                   f"{exc.strerror}") from None
    print(f"receiver name:      {keys.name}")
    print(f"keys:               {keys.keys_dir} (mode 0600)")
    print(f"TLS pin (SPKI):     {keys.pin}")
    print(f"practice key:       {base64.b64encode(keys.practice_public_raw).decode()}")
    print(f"receipt key:        {base64.b64encode(keys.receipt_public_raw).decode()}")
    password = first_admin(args.data_dir, args.admin)
    if password is not None:
        print(f"web UI admin:       {args.admin}, one-time password: {password} (write it "
              "down; a new one is chosen at first sign-in)")
    print("Back up the keys directory: without practice.key no sealed capture can be opened.")
    return 0
