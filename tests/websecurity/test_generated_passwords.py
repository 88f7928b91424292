"""Every generated password comes in one style, from an alphabet without look-alikes."""

from __future__ import annotations

import re

from practice.cli import main as receiver_main
from practice.keys import ReceiverKeys
from sync.provisioning import parse_toml
from tests.sync.helpers import unique_name
from websecurity.accounts import check_password
from websecurity.usercli import ALPHABET, generate_password

STYLE = re.compile(rf"[{ALPHABET}]{{5}}(-[{ALPHABET}]{{5}}){{3}}")


def test_the_alphabet_has_no_look_alikes():
    assert not set("0Oo1lIi") & set(ALPHABET)
    assert ALPHABET == ALPHABET.lower() and len(set(ALPHABET)) == len(ALPHABET) >= 30


def test_generated_passwords_have_one_style_and_pass_the_account_rules():
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert STYLE.fullmatch(password), password
        assert check_password(password, "admin") == password


def test_token_and_init_passwords_are_in_the_same_style(tmp_path, capsys):
    data_dir = tmp_path / "recv"
    ReceiverKeys.create(data_dir, unique_name())
    out = tmp_path / "p.toml"
    assert receiver_main(["token", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    password = parse_toml(out.read_text()).admin.one_time_password
    assert STYLE.fullmatch(password) and password in printed
    assert receiver_main(["init", "--data-dir", str(tmp_path / "other"), "--name",
                          unique_name()]) == 0
    shown = capsys.readouterr().out
    assert STYLE.search(shown), shown
