"""One install path for a station and one for the practice server, told the same way in the
README and in docs/deploy.md, and each names a script that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
INSTALL = re.compile(r"sudo \./scripts/(install-[a-z]+\.sh)")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else len(text)]


def test_readme_and_deploy_guide_name_the_same_two_install_scripts():
    readme = set(INSTALL.findall(_section(README, "## Installing")))
    deploy = set(INSTALL.findall(DEPLOY))
    assert readme == deploy == {"install-station.sh", "install-receiver.sh"}
    for script in readme:
        assert (ROOT / "scripts" / script).is_file()


def test_make_setup_is_not_offered_as_a_way_to_install_a_station():
    """Not in a command block of either, nor in the README's table of install commands."""
    for text in (_section(README, "## Installing"), DEPLOY):
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
        table = [line for line in text.splitlines() if line.startswith("|")]
        assert blocks and all("make " not in block for block in blocks)
        assert all("make setup" not in line for line in table)


def test_the_doctor_is_shown_run_as_the_service_user_in_both():
    command = "sudo -u capture-station /opt/capture-station/venv/bin/capture-station doctor"
    assert command in README and command in DEPLOY
