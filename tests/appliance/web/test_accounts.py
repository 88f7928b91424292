"""The account store and the login throttle, without the web layer."""

from __future__ import annotations

import stat

import pytest

from appliance.web.accounts import AccountError, Accounts
from appliance.web.throttle import LoginThrottle

from .conftest import FakeClock


@pytest.fixture
def accounts(tmp_path):
    return Accounts(tmp_path / "state" / "accounts.db")


def test_there_is_no_default_account(accounts):
    assert accounts.list() == [] and len(accounts) == 0
    for name in ("admin", "root", "nurse"):
        for password in ("admin", "password", "", "capture-station"):
            assert accounts.verify(name, password) is None


def test_passwords_are_argon2id_and_never_stored(accounts):
    accounts.add("adam", "admin", password="a-long-secret-1")
    raw = accounts.path.read_bytes()
    assert b"a-long-secret-1" not in raw and b"$argon2id$" in raw
    assert stat.S_IMODE(accounts.path.stat().st_mode) == 0o600
    assert accounts.verify("adam", "a-long-secret-1").role == "admin"
    assert accounts.verify("adam", "a-long-secret-2") is None
    assert accounts.verify("ADAM", "a-long-secret-1") is None  # names are exact


def test_roles_are_cumulative(accounts):
    nurse = accounts.add("nina", "nurse", password="nurse-secret-1")
    admin = accounts.add("adam", "admin", password="admin-secret-1")
    assert nurse.has_role("nurse") and not nurse.has_role("reviewer")
    assert admin.has_role("nurse") and admin.has_role("reviewer") and admin.has_role("admin")


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("Bad Name", "nurse", "long-enough-1", "user name"),
    ("", "nurse", "long-enough-1", "user name"),
    ("x" * 33, "nurse", "long-enough-1", "user name"),
    ("nina", "doctor", "long-enough-1", "role must be"),
    ("nina", "nurse", "short", "at least 10"),
    ("nina", "nurse", "my-name-is-nina", "must not contain"),
    ("nina", "nurse", "x" * 257, "at most 256"),
])
def test_bad_input_is_refused_with_a_reason(accounts, name, role, password, message):
    with pytest.raises(AccountError, match=message):
        accounts.add(name, role, password=password)
    assert accounts.list() == []


def test_duplicate_and_last_admin_rules(accounts):
    accounts.add("adam", "admin", password="admin-secret-1")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("adam", "nurse", password="other-secret-1")
    with pytest.raises(AccountError, match="last admin"):
        accounts.remove("adam")
    with pytest.raises(AccountError, match="last admin"):
        accounts.set_role("adam", "reviewer")
    accounts.add("eve", "admin", password="admin-secret-2")
    accounts.set_role("adam", "reviewer")
    accounts.remove("adam")
    assert [a.name for a in accounts.list()] == ["eve"]
    with pytest.raises(AccountError, match="no user"):
        accounts.remove("adam")


def test_provisioning_with_a_hash_or_a_one_time_password(accounts):
    encoded = Accounts.hash_only("provisioned-secret-1")
    accounts.add("adam", "admin", password_hash=encoded)
    assert accounts.verify("adam", "provisioned-secret-1") is not None
    accounts.add("otto", "admin", password="one-time-secret-1", one_time=True)
    assert accounts.get("otto").must_change_password
    accounts.set_password("otto", "chosen-secret-22")
    assert not accounts.get("otto").must_change_password
    with pytest.raises(AccountError, match="Argon2id"):
        accounts.add("bob", "nurse", password_hash="$2b$12$bcrypt-is-not-accepted")
    with pytest.raises(AccountError, match="not a valid"):
        accounts.add("bob", "nurse", password_hash="$argon2id$v=19$garbage")
    with pytest.raises(AccountError, match="too high"):
        accounts.add("bob", "nurse", password_hash=encoded.replace("m=65536", "m=99999999"))
    with pytest.raises(AccountError, match="exactly one"):
        accounts.add("bob", "nurse")


def test_a_password_change_changes_the_stamp(accounts):
    accounts.add("nina", "nurse", password="nurse-secret-1")
    before = accounts.get("nina").password_changed_at
    accounts.set_password("nina", "nurse-secret-2")
    assert accounts.get("nina").password_changed_at != before


def test_throttle_five_free_failures_then_doubling_waits():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        assert throttle.failure("nina", "10.0.0.1") == 0
        assert throttle.retry_after("nina", "10.0.0.1") == 0
    waits = [throttle.failure("nina", "10.0.0.1")]
    assert throttle.retry_after("nina", "10.0.0.2") == waits[0]  # same account elsewhere
    assert throttle.retry_after("rita", "10.0.0.1") == waits[0]  # same client, other name
    assert throttle.retry_after("rita", "10.0.0.2") == 0
    for _ in range(6):
        clock.advance(waits[-1])
        waits.append(throttle.failure("nina", "10.0.0.1"))
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at 15 minutes
    throttle.success("nina", "10.0.0.1")
    assert throttle.retry_after("nina", "10.0.0.1") == 0
    assert throttle.failures(account="nina") == 0


def test_throttle_forgets_old_failures():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        throttle.failure("nina", "c")
    clock.advance(25 * 3600)
    assert throttle.failure("nina", "c") == 0
    assert throttle.failures(account="nina") == 1
