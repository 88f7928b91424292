"""The station's accounts: its three roles and where their file lives (the store is shared).

Roles, lowest first: a nurse captures and reviews this start's photos, a reviewer can also
retract what may already be at the practice, an admin manages accounts and reads the audit
log. There is no default account. The first admin comes from provisioning (a password hash, or
a one-time password that must be changed at first login) or from ``capture-station user add
--role admin`` on the console.
"""

from __future__ import annotations

from pathlib import Path

from websecurity.accounts import Accounts, Roles

from ..paths import StatePaths

ROLES = Roles(("nurse", "reviewer", "admin"))


def accounts_path(paths: StatePaths) -> Path:
    return paths.root / "accounts.db"


def open_accounts(paths: StatePaths) -> Accounts:
    """The station's account store (created empty if missing)."""
    return Accounts(accounts_path(paths), ROLES)
