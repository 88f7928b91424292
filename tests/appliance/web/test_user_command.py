"""``capture-station user``: the console way to make the first admin, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

from appliance.web.accounts import ROLES
from sync.audit import verify
from websecurity.accounts import Accounts


def cli(tmp_path, *args, stdin=""):
    config = tmp_path / "station.toml"
    if not config.exists():
        config.write_text(f'[station]\nstate_dir = "{tmp_path / "state"}"\n')
    entry = "import sys; from appliance.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", entry, "--config", str(config),
                           "user", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def test_first_admin_from_the_console_then_the_rest(tmp_path):
    assert "no accounts" in cli(tmp_path, "list").stdout
    added = cli(tmp_path, "add", "adam", "--role", "admin", "--password-stdin",
                stdin="console-secret-1\n")
    assert added.returncode == 0, added.stderr
    generated = cli(tmp_path, "add", "nina", "--role", "nurse", "--generate")
    one_time = generated.stdout.split("one-time password: ")[1].split()[0]
    accounts = Accounts(tmp_path / "state" / "accounts.db", ROLES)
    assert accounts.verify("adam", "console-secret-1").role == "admin"
    nina = accounts.verify("nina", one_time)
    assert nina is not None and nina.must_change_password
    listing = cli(tmp_path, "list").stdout
    assert "adam" in listing and "one-time password" in listing
    assert "console-secret-1" not in listing and "$argon2" not in listing
    assert cli(tmp_path, "role", "nina", "reviewer").returncode == 0
    assert cli(tmp_path, "passwd", "nina", "--password-stdin",
               stdin="new-secret-for-n2\n").returncode == 0
    assert accounts.verify("nina", "new-secret-for-n2").role == "reviewer"
    assert cli(tmp_path, "remove", "nina").returncode == 0
    assert accounts.get("nina") is None
    lines = [json.loads(x) for x in (tmp_path / "state" / "audit.log").read_text().splitlines()]
    assert [(e["event"], e["fields"]["user"], e["fields"]["by"]) for e in lines] == [
        ("web.user_added", "adam", "console"), ("web.user_added", "nina", "console"),
        ("web.user_role_changed", "nina", "console"),
        ("web.user_password_reset", "nina", "console"),
        ("web.user_removed", "nina", "console")]
    assert verify(tmp_path / "state" / "audit.log").ok
    assert "secret" not in (tmp_path / "state" / "audit.log").read_text()


def test_hash_for_provisioning_then_add_with_it(tmp_path):
    hashed = cli(tmp_path, "hash", "--password-stdin", stdin="provision-secret-1\n")
    assert hashed.returncode == 0 and hashed.stdout.startswith("$argon2id$")
    assert not (tmp_path / "state" / "accounts.db").exists()  # hash touches no account
    added = cli(tmp_path, "add", "adam", "--role", "admin", "--password-hash",
                hashed.stdout.strip())
    assert added.returncode == 0, added.stderr
    assert Accounts(tmp_path / "state" / "accounts.db", ROLES).verify("adam", "provision-secret-1")


def test_refusals_are_clear_and_change_nothing(tmp_path):
    cli(tmp_path, "add", "adam", "--role", "admin", "--password-stdin",
        stdin="console-secret-1\n")
    cases = [
        (("add", "nina", "--role", "nurse", "--password-stdin"), "short\n", "at least 12"),
        (("add", "Nina!", "--role", "nurse", "--generate"), "", "user name"),
        (("add", "nina", "--role", "nurse"), "", "not a terminal"),
        (("add", "adam", "--role", "nurse", "--generate"), "", "already exists"),
        (("remove", "adam"), "", "last admin"),
        (("role", "adam", "nurse"), "", "last admin"),
        (("passwd", "ghost", "--generate"), "", "no user"),
        (("add", "x", "--role", "nurse", "--password-hash", "plain"), "", "Argon2id"),
    ]
    for args, stdin, message in cases:
        result = cli(tmp_path, *args, stdin=stdin)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    names = [a.name for a in Accounts(tmp_path / "state" / "accounts.db", ROLES).list()]
    assert names == ["adam"]
