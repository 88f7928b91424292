"""Web UI accounts: names, roles and Argon2id password hashes in their own SQLite file.

Both web UIs (the station's and the practice's) keep their staff here, each in its own file
and with its own :class:`Roles`: the store knows how roles rank, not what they are called.
There is no default account: the first one (holding the top role) is made by the program that
owns the file, from provisioning or its console. Roles are cumulative: each can do what the
ones below it can. The file holds no patient data, only staff names and hashes.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import WebSecurityError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
#: ASVS 4.0 2.1.1: at least 12 characters; 2.1.7: not a common or breached password.
MIN_PASSWORD = 12
MAX_PASSWORD = 256
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable" (about 10^8
#: guesses), which rules out repeats, keyboard walks and dictionary words with digits added.
MIN_SCORE = 3
#: zxcvbn's cost grows with length; past this many characters the rest adds no guessability.
_SCORED_PREFIX = 64
#: The rule as shown to people before they choose (sign-in, password and user pages).
PASSWORD_RULE = (f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters, does not "
                 "contain the user name, and must not be a common or easily guessed password "
                 "(a few unrelated words make a good one).")
MAX_MEMORY_KIB = 1 << 20  # 1 GiB
MAX_TIME_COST = 20


class AccountError(WebSecurityError, ValueError):
    """A request about accounts cannot be done; the message says why (never the password)."""


@dataclass(frozen=True)
class Roles:
    """The roles of one UI, lowest first. Each role can do what those before it can; the last
    one manages accounts, so the store never lets its last holder go."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError("roles are a non-empty sequence of distinct names")

    @property
    def lowest(self) -> str:
        return self.names[0]

    @property
    def admin(self) -> str:
        return self.names[-1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, role: object) -> bool:
        return role in self.names

    def check(self, role: str) -> str:
        """``role`` if it is one of these, else :class:`AccountError` listing them."""
        if role not in self.names:
            raise AccountError(f"role must be one of {', '.join(self.names)}")
        return role

    def at_least(self, role: str | None, required: str) -> bool:
        """True if ``role`` (None: the lowest) ranks at or above ``required``."""
        self.check(required)
        held = self.lowest if role is None else role
        return held in self.names and self.names.index(held) >= self.names.index(required)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    must_change_password: bool
    created_at: str
    password_changed_at: str
    roles: Roles = field(repr=False, compare=False)

    def has_role(self, role: str) -> bool:
        """True if this account's role is ``role`` or above it."""
        return self.roles.at_least(self.role, role)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30 000 most common passwords, as shipped by zxcvbn (lower case); loaded on first use
    (a server that never sets a password never holds them)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AccountError("a user name is 1-32 characters: lower-case letters, digits, '.', "
                           "'_' or '-', starting with a letter or digit")
    return name


def check_password(password: str, name: str = "") -> str:
    """``password`` if it meets :data:`PASSWORD_RULE`, else :class:`AccountError` saying
    why (never echoing it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if name and name.lower() in password.lower():
        raise AccountError("a password must not contain the user name")
    if password.lower() in common_passwords():
        raise AccountError("this is one of the most common passwords; choose another")
    import zxcvbn  # its word lists take ~15 MB: loaded when a password is chosen, not at start

    verdict = zxcvbn.zxcvbn(password[:_SCORED_PREFIX], user_inputs=[name] if name else [])
    if verdict["score"] < MIN_SCORE:
        hint = verdict["feedback"]["warning"] or "it follows a pattern"
        raise AccountError(f"this password is too easy to guess ({hint.rstrip('.')}); "
                           "a few unrelated words make a good one")
    return password


def _now() -> str:
    # Microseconds: the stamp also tells live sessions that the password changed under them.
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Accounts:
    """The account store. Safe to share between threads (one connection per call).

    ``hasher`` defaults to argon2-cffi's Argon2id with its RFC 9106 "low memory" profile
    (64 MiB, 3 passes), which takes about a tenth of a second on a desktop and stays well
    under a second on a Raspberry Pi 4. ``roles`` are the UI's own (see :class:`Roles`).
    """

    def __init__(self, path: str | os.PathLike[str], roles: Roles, *,
                 hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.roles = roles
        self.hasher = hasher or PasswordHasher()
        self._lock = threading.Lock()
        self._dummy: str | None = None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        with self._db() as db:
            db["users"].create({
                "name": str, "role": str, "password_hash": str, "must_change": int,
                "created_at": str, "password_changed_at": str,
            }, pk="name", if_not_exists=True)

    def _db(self) -> _Connection:
        return _Connection(self.path)

    @staticmethod
    def hash_only(password: str, hasher: PasswordHasher | None = None) -> str:
        """An Argon2id hash for a provisioning file (the password is checked, not stored)."""
        return (hasher or PasswordHasher()).hash(check_password(password))

    # -- queries --------------------------------------------------------------------------------
    def get(self, name: str) -> Account | None:
        with self._db() as db:
            rows = list(db["users"].rows_where("name = ?", [name]))
        return self._account(rows[0]) if rows else None

    def list(self) -> list[Account]:
        with self._db() as db:
            return [self._account(r) for r in db["users"].rows_where(order_by="name")]

    def count_admins(self) -> int:
        """How many accounts hold the top role."""
        return sum(1 for a in self.list() if a.role == self.roles.admin)

    def __len__(self) -> int:
        with self._db() as db:
            return db["users"].count

    # -- changes --------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str | None = None,
            password_hash: str | None = None, *, one_time: bool = False) -> Account:
        """Create an account from a password or an existing Argon2id hash (provisioning).

        ``one_time`` marks the password as one that must be changed at first login.
        """
        check_name(name)
        self.roles.check(role)
        if (password is None) == (password_hash is None):
            raise AccountError("give exactly one of a password or a password hash")
        if password is not None:
            encoded = self.hasher.hash(check_password(password, name))
        else:
            encoded = self._check_hash(password_hash or "")
        now = _now()
        row = {"name": name, "role": role, "password_hash": encoded,
               "must_change": int(one_time), "created_at": now, "password_changed_at": now}
        with self._lock, self._db() as db:
            try:
                db["users"].insert(row)
            except sqlite3.IntegrityError:
                raise AccountError(f"user {name!r} already exists") from None
        return self._account(row)

    def set_password(self, name: str, password: str, *, one_time: bool = False) -> None:
        encoded = self.hasher.hash(check_password(password, name))
        self._update(name, {"password_hash": encoded, "must_change": int(one_time),
                            "password_changed_at": _now()})

    def set_role(self, name: str, role: str) -> None:
        self.roles.check(role)
        admin = self.roles.admin
        with self._lock:
            account = self._require(name)
            if account.role == admin and role != admin and self.count_admins() == 1:
                raise AccountError(f"the last {admin} cannot lose the {admin} role")
            self._update(name, {"role": role})

    def remove(self, name: str) -> None:
        with self._lock:
            account = self._require(name)
            if account.role == self.roles.admin and self.count_admins() == 1:
                raise AccountError(f"the last {self.roles.admin} cannot be removed")
            with self._db() as db:
                db["users"].delete(name)

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is right, else None (same cost either way)."""
        row = None
        if isinstance(name, str) and NAME_RE.fullmatch(name):
            with self._db() as db:
                rows = list(db["users"].rows_where("name = ?", [name]))
            row = rows[0] if rows else None
        encoded = row["password_hash"] if row else self._dummy_hash()
        try:
            self.hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self.hasher.check_needs_rehash(encoded):
            self._update(name, {"password_hash": self.hasher.hash(password)})
        return self._account(row)

    # -- helpers --------------------------------------------------------------------------------
    def _dummy_hash(self) -> str:
        """Verifying against this when the name is unknown keeps the cost the same, so a
        failed sign-in does not reveal which names exist."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(os.urandom(16).hex())
        return self._dummy

    def _check_hash(self, encoded: str) -> str:
        if not encoded.startswith("$argon2id$"):
            raise AccountError("a password hash must be an Argon2id hash ($argon2id$...); "
                               "make one with the `user hash` command")
        try:
            params = extract_parameters(encoded)
        except (InvalidHashError, ValueError):
            raise AccountError("the password hash is not a valid Argon2id hash") from None
        # A hash with absurd costs would make every login of that account a denial of service.
        if params.memory_cost > MAX_MEMORY_KIB or params.time_cost > MAX_TIME_COST:
            raise AccountError(f"the password hash's costs are too high (at most "
                               f"m={MAX_MEMORY_KIB}, t={MAX_TIME_COST})")
        return encoded

    def _account(self, row: dict) -> Account:
        return Account(name=row["name"], role=row["role"],
                       must_change_password=bool(row["must_change"]),
                       created_at=row["created_at"],
                       password_changed_at=row["password_changed_at"], roles=self.roles)

    def _require(self, name: str) -> Account:
        account = self.get(name)
        if account is None:
            raise AccountError(f"no user {name!r}")
        return account

    def _update(self, name: str, values: dict) -> None:
        with self._db() as db:
            if not list(db["users"].rows_where("name = ?", [name])):
                raise AccountError(f"no user {name!r}")
            db["users"].update(name, values)


class _Connection:
    """A short-lived sqlite-utils database in WAL mode with durable commits."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._db = sqlite_utils.Database(self._conn)

    def __enter__(self) -> sqlite_utils.Database:
        return self._db

    def __exit__(self, *exc: object) -> None:
        self._conn.close()
