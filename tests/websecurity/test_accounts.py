"""The account store, without a web layer, with the station's roles and with others."""

from __future__ import annotations

import stat

import pytest

from websecurity.accounts import PASSWORD_RULE, AccountError, Accounts, Roles, check_password

STATION = Roles(("nurse", "reviewer", "admin"))
PRACTICE = Roles(("clinician", "records", "admin"))


@pytest.fixture
def accounts(tmp_path):
    return Accounts(tmp_path / "state" / "accounts.db", STATION)


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
    ("nina", "nurse", "short", "at least 12"),
    ("nina", "nurse", "my-name-is-nina", "must not contain"),
    ("nina", "nurse", "x" * 257, "at most 256"),
    ("adam", "admin", "aaaaaaaaaa", "at least 12"),  # accepted before: ten characters
    ("adam", "admin", "password12", "at least 12"),
    ("adam", "admin", "password1234", "most common"),  # in zxcvbn's common-password list
    ("adam", "admin", "Password1234", "most common"),  # whatever the case
    ("adam", "admin", "aaaaaaaaaaaa", "too easy to guess"),  # repeats
    ("adam", "admin", "qwertyuiop12", "too easy to guess|most common"),  # a keyboard walk
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


def test_roles_are_the_ui_s_own(tmp_path):
    practice = Accounts(tmp_path / "practice.db", PRACTICE)
    clinician = practice.add("cleo", "clinician", password="clinic-secret-1")
    keeper = practice.add("rex", "records", password="records-secret-1")
    assert keeper.has_role("clinician") and not clinician.has_role("records")
    with pytest.raises(AccountError, match="clinician, records, admin"):
        practice.add("nina", "nurse", password="nurse-secret-1")
    with pytest.raises(AccountError, match="one of"):
        clinician.has_role("reviewer")


def test_the_top_role_is_the_one_that_cannot_be_left_empty(tmp_path):
    boss = Roles(("staff", "lead"))
    accounts = Accounts(tmp_path / "team.db", boss)
    accounts.add("lena", "lead", password="lead-secret-11")
    with pytest.raises(AccountError, match="the last lead cannot lose the lead role"):
        accounts.set_role("lena", "staff")
    with pytest.raises(AccountError, match="the last lead cannot be removed"):
        accounts.remove("lena")


def test_a_role_ladder_needs_distinct_names():
    for names in ((), ("a", "a")):
        with pytest.raises(ValueError, match="distinct"):
            Roles(names)
    assert STATION.at_least(None, "nurse") and not STATION.at_least(None, "reviewer")
    assert not STATION.at_least("ghost", "nurse")


def test_a_long_unpredictable_password_is_accepted_and_the_rule_says_what_is_checked():
    for password in ("k7#vQ9!mZ2pL", "correct horse battery"):
        assert check_password(password, "adam") == password
    assert "12" in PASSWORD_RULE and "common" in PASSWORD_RULE
