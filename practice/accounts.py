"""The practice web UI's accounts: its three roles and where their file lives (the store,
Argon2id and the rules are :mod:`websecurity.accounts`, shared with the station).

Roles, lowest first: a **clinician** finds patients and sees, compares and downloads their
photos and documents; a **records** officer also sees retracted items and records consent
withdrawals; an **admin** also manages accounts and stations and reads the audit log. The file
is ``DIR/accounts.db`` (0600). There is no default account: ``capture-receiver init`` makes the
first admin with a one-time password, or ``capture-receiver user add NAME --role admin``.
"""

from __future__ import annotations

from pathlib import Path

from websecurity.accounts import Accounts, Roles

ROLES = Roles(("clinician", "records", "admin"))
ACCOUNTS_NAME = "accounts.db"


def accounts_path(data_dir: Path) -> Path:
    return Path(data_dir) / ACCOUNTS_NAME


def open_accounts(data_dir: Path) -> Accounts:
    """The practice's account store (created empty, 0600, if missing)."""
    return Accounts(accounts_path(data_dir), ROLES)
