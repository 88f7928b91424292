import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.enrolment import Enrolment, save_enrolment
from appliance.paths import StatePaths
from tests.test_imports import GRAPH


def station_config(tmp_path, extra=""):
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\nstate_dir = "{tmp_path / "state"}"\n'
        '[camera]\nbackend = "fake"\n[gpio]\npin_factory = "mock"\n[vault]\nreserve_mb = 16\n'
        + extra
    )
    return path


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("doctor", "demo", "config"):
        assert command in out


def test_doctor_with_misspelt_key_exits_non_zero_naming_it(tmp_path):
    bad = station_config(tmp_path, "[workflow]\nconsent_requird = false\n")
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "doctor", "--config", str(bad)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "consent_requird" in result.stderr
    assert "consent_required" in result.stderr  # the suggestion


def test_doctor_reports_missing_enrolment(tmp_path, capsys):
    cfg = station_config(tmp_path)
    assert main(["doctor", "--config", str(cfg), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status["enrolment"] == "fail"
    assert status["hpke"] == "ok"
    assert status["state_dir"] == "ok"
    assert status["barcode"] == "ok"
    assert status["camera"] == "warn"  # the fake camera works but is not a station camera
    assert report["ok"] is False


def test_doctor_ready_once_enrolled(tmp_path, capsys):
    cfg = station_config(tmp_path)
    save_enrolment(StatePaths(tmp_path / "state"), Enrolment(
        station_id="st-test", receiver_name="practice", receiver_pin="0" * 64,
        practice_public_key="A" * 43 + "=",
    ))
    assert main(["--config", str(cfg), "doctor", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "result: ready" in out


def test_doctor_fails_on_unwritable_state_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = station_config(tmp_path).read_text().replace(
        str(tmp_path / "state"), str(blocker / "state"))
    path = tmp_path / "b.toml"
    path.write_text(cfg)
    assert main(["doctor", "--config", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {c["name"]: c["status"] for c in report["checks"]}["state_dir"] == "fail"


def test_doctor_fails_without_picamera2(tmp_path, capsys):
    cfg = station_config(tmp_path).read_text().replace('backend = "fake"',
                                                       'backend = "picamera2"')
    path = tmp_path / "c.toml"
    path.write_text(cfg)
    assert main(["doctor", "--config", str(path), "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["camera"]["status"] == "fail"
    assert "python3-picamera2" in checks["camera"]["fix"]


def test_config_sample_and_show(tmp_path, capsys):
    assert main(["config", "sample"]) == 0
    assert "[workflow]" in capsys.readouterr().out
    cfg = station_config(tmp_path)
    assert main(["config", "show", "--config", str(cfg)]) == 0
    assert 'backend = "fake"' in capsys.readouterr().out


def test_console_scripts_installed():
    import shutil

    for script in ("capture-station", "capture-receiver"):
        assert shutil.which(script) or (
            __import__("pathlib").Path(sys.executable).parent / script).exists()


def test_command_error_under_python_m_is_a_message_not_a_traceback(tmp_path):
    """`python -m appliance.cli` runs the CLI as ``__main__``; a command's CommandError must
    still be the class that entry point catches."""
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "audit", "show", "--file",
         str(tmp_path / "absent.log")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "capture-station: no audit log at" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("cli_name", ["appliance.cli", "practice.cli"])
def test_the_cli_imports_every_command_and_no_command_imports_the_cli(cli_name):
    """The CLI imports its command modules by name; a command importing the CLI back would be
    an import cycle (and, under ``python -m``, a second copy of the CLI's classes)."""
    cli = importlib.import_module(cli_name)
    package_name = cli_name.rsplit(".", 1)[0] + ".commands"
    package = Path(importlib.import_module(package_name).__file__).parent
    modules = sorted(p.stem for p in package.glob("*.py") if not p.stem.startswith("_"))
    assert sorted(m.__name__.rsplit(".", 1)[1] for m in cli.COMMANDS) == modules
    importers = {m for m, targets in GRAPH.items() if cli_name in targets}
    assert not {m for m in importers if m.startswith(package_name)}, importers
