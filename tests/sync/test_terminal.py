"""What both CLIs print: untrusted text made inert, help without reStructuredText, and a
quiet end when the pipe's reader goes away."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import build_parser as station_parser
from practice.cli import build_parser as receiver_parser
from sync.terminal import plain_text, printable

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("raw", "shown"), [
    ("Room 3", "Room 3"),
    ("Zimmer Nr. 3 – Ärztin", "Zimmer Nr. 3 – Ärztin"),
    ("\x1b]0;pwned\x07evil", "\\x1b]0;pwned\\x07evil"),
    ("a\rb\nc\x7f", "a\\x0db\\x0ac\\x7f"),
    ("left\u202eright", "left\\u202eright"),
    ("\x9b31m", "\\x9b31m"),
    ("back\\x1b", "back\\\\x1b"),
])
def test_printable_escapes_what_a_terminal_would_obey(raw, shown):
    assert printable(raw) == shown
    assert printable(raw).isprintable()


def test_plain_text_removes_sphinx_markup():
    doc = ("``capture-station scan``: see :mod:`sync.provisioning` and "
           ":func:`~websecurity.accounts.check_password`; example::")
    assert plain_text(doc) == ("`capture-station scan`: see sync.provisioning and "
                               "check_password; example:")


def _parsers(parser: argparse.ArgumentParser, path: str):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


@pytest.mark.parametrize("build", [station_parser, receiver_parser],
                         ids=["capture-station", "capture-receiver"])
def test_every_help_text_is_free_of_sphinx_markup(build):
    parsers = list(_parsers(build(), build().prog))
    assert len(parsers) > 10  # every sub-command, and the actions below `user` and `audit`
    for path, parser in parsers:
        text = parser.format_help()
        for markup in ("``", ":mod:", ":func:", ":class:", ":meth:", ":attr:", "::"):
            assert markup not in text, f"{path} --help shows {markup!r}"
        assert "capture-\n" not in text, f"{path} --help breaks a command name"


@pytest.mark.parametrize(("module", "argv"), [
    ("appliance.cli", ["config", "sample"]),
    ("appliance.cli", ["config", "show"]),
    ("appliance.cli", ["--help"]),
    ("practice.cli", ["stations", "--help"]),
    ("practice.cli", ["token", "--data-dir", "DATA", "--name", "Room 1"]),
])
def test_a_closed_pipe_ends_the_command_without_a_traceback(module, argv, tmp_path):
    if "DATA" in argv:
        from practice.keys import ReceiverKeys
        from tests.sync.helpers import unique_name

        ReceiverKeys.create(tmp_path / "recv", unique_name())
        argv = [str(tmp_path / "recv") if a == "DATA" else a for a in argv]
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already gone: every write fails with EPIPE
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "CAPTURE_STATION_CONFIG": str(tmp_path / "absent.toml")}
    if argv[:2] == ["config", "show"]:
        env.pop("CAPTURE_STATION_CONFIG")
    try:
        result = subprocess.run([sys.executable, "-m", module, *argv], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=60,
                                check=False)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
    # argparse swallows a failed write of its own help (exit 0) when the text overflows the
    # stdout buffer; when it fits (it depends on the terminal width), the final flush fails
    # and the command ends as any other does (141). Everything else is 141.
    assert result.returncode in ((0, 141) if "--help" in argv else (141,))
