"""The systemd units: `systemd-analyze verify` clean, hardened as documented, in step with the code.

`systemd-analyze verify` refuses a unit whose ExecStart= binary does not exist, and the units
name the installed paths under /opt. Each test copies the unit into a temporary directory with
the binary path pointed at a real executable file there; nothing else is changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import provisioning as prov
from appliance.config import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
UNIT_NAMES = ("capture-station.service", "capture-station-provision.service",
              "capture-station-provision.path", "capture-receiver.service")
INSTALLED_BIN = re.compile(r"/opt/capture-(station|receiver)/venv/bin/")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed")


def staged(name: str, tmp_path: Path, text: str | None = None) -> Path:
    """Copy the unit to ``tmp_path`` with its ExecStart binary replaced by a real executable."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for program in ("capture-station", "capture-receiver"):
        exe = bindir / program
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    text = (UNITS / name).read_text() if text is None else text
    unit = tmp_path / name
    unit.write_text(INSTALLED_BIN.sub(f"{bindir}/", text))
    return unit


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(["systemd-analyze", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def verify(unit: Path) -> list[str]:
    """Every complaint `systemd-analyze verify` has (it exits 0 on unknown keys, so read stderr)."""
    result = analyze("verify", f"./{unit.name}", cwd=unit.parent)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not lines:
        lines = [f"exit status {result.returncode}"]
    return lines


def exposure(unit: Path) -> float:
    result = analyze("security", "--offline=yes", f"./{unit.name}", cwd=unit.parent)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def directives(name: str) -> dict[str, list[str]]:
    """``Section.Key`` -> every value (systemd keys may repeat)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in (UNITS / name).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            section = stripped.strip("[]")
            continue
        key, _, value = stripped.partition("=")
        found.setdefault(f"{section}.{key}", []).append(value)
    return found


def test_every_unit_file_is_tested() -> None:
    assert sorted(p.name for p in UNITS.iterdir() if p.suffix in (".service", ".path")) == \
        sorted(UNIT_NAMES)


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_verifies_clean(name: str, tmp_path: Path) -> None:
    for other in UNIT_NAMES:  # a .path unit is verified together with the unit it starts
        staged(other, tmp_path)
    assert verify(tmp_path / name) == []


def test_verify_check_catches_a_bad_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt directive and a missing binary are both reported."""
    text = (UNITS / "capture-station.service").read_text()
    typo = staged("capture-station.service", tmp_path,
                  text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    assert any("NoNewPrivilege" in line for line in verify(typo))
    missing = tmp_path / "missing" / "capture-station.service"
    missing.parent.mkdir()
    missing.write_text(text)  # still names /opt/capture-station/..., absent here
    assert verify(missing)


def test_station_unit_has_the_required_hardening() -> None:
    d = directives("capture-station.service")
    one = {k: v[-1] for k, v in d.items()}
    assert one["Service.Type"] == "notify"
    assert one["Service.ExecStart"].endswith("/capture-station run")
    assert one["Service.WatchdogSec"]
    assert one["Service.Restart"] == "on-failure"
    assert one["Service.User"] == "capture-station"
    assert one["Service.StateDirectory"] == "capture-station"
    assert one["Service.RuntimeDirectory"] == "capture-station"
    assert one["Service.ProtectSystem"] == "strict"
    assert one["Service.NoNewPrivileges"] == "yes"
    assert one["Service.DevicePolicy"] == "closed"
    assert one["Service.CapabilityBoundingSet"] == ""
    allowed = {v.split()[0] for v in d["Service.DeviceAllow"]}
    # /dev/video*, /dev/v4l-subdev* (video4linux), /dev/media*, /dev/dma_heap/*, /dev/gpiochip*
    assert allowed == {"char-video4linux", "char-media", "char-dma_heap", "char-gpiochip"}
    assert "PrivateDevices" not in one or one["Service.PrivateDevices"] == "no"
    # The station's state directory is the config default, so the vault lands in it.
    assert SCHEMA["station"]["state_dir"].default == "/var/lib/" + one["Service.StateDirectory"]


def test_provision_unit_runs_once_before_the_station() -> None:
    d = directives("capture-station-provision.service")
    one = {k: v[-1] for k, v in d.items()}
    assert one["Service.Type"] == "oneshot"
    assert one["Unit.Before"] == "capture-station.service"
    assert one["Service.ExecStart"].endswith("/capture-station provision")
    conditions = [c.lstrip("|") for c in d["Unit.ConditionPathExists"]]
    assert SCHEMA["sync"]["provision_file"].default in conditions
    # The QR path: the running station spools to its runtime directory; the path unit starts
    # the service, which may write there and restarts the station afterwards.
    spool = str(prov.QR_SPOOL)
    assert spool in conditions
    assert directives("capture-station-provision.path")["Path.PathExists"] == [spool]
    assert directives("capture-station-provision.path")["Path.Unit"] == [
        "capture-station-provision.service"]
    assert f"-{prov.QR_SPOOL.parent}" in one["Service.ReadWritePaths"].split()
    station = directives("capture-station.service")
    assert station["Service.RuntimeDirectory"] == [prov.QR_SPOOL.parent.name]
    assert "capture-station-provision.service" in station["Unit.After"][-1].split()
    assert "try-restart capture-station.service" in one["Service.ExecStartPost"]


def test_receiver_unit() -> None:
    d = {k: v[-1] for k, v in directives("capture-receiver.service").items()}
    assert d["Service.ExecStart"].endswith(
        "/capture-receiver serve --data-dir /var/lib/capture-receiver")
    assert d["Service.StateDirectory"] == "capture-receiver"
    assert d["Service.User"] == "capture-receiver"
    assert d["Service.PrivateDevices"] == "yes"
    assert d["Service.NoNewPrivileges"] == "yes"
    assert d["Service.ProtectSystem"] == "strict"


def documented_scores() -> dict[str, float]:
    text = DEPLOY_DOC.read_text()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^\| `(capture-[a-z-]+\.service)` \| (\d+\.\d) ", text, re.M)}


@pytest.mark.parametrize("name, ceiling", [("capture-station.service", 1.5),
                                           ("capture-receiver.service", 1.0),
                                           ("capture-station-provision.service", 1.6)])
def test_security_exposure_is_low_and_documented(name: str, ceiling: float,
                                                 tmp_path: Path) -> None:
    score = exposure(staged(name, tmp_path))
    assert score <= ceiling
    assert documented_scores().get(name) == score, (
        f"docs/deploy.md must report {name} at {score}")


def test_exposure_reflects_the_hardening(tmp_path: Path) -> None:
    """Dropping protections raises the score, so the ceiling above measures something."""
    text = (UNITS / "capture-station.service").read_text()
    weaker = re.sub(r"^(ProtectSystem|ProtectHome|NoNewPrivileges|CapabilityBoundingSet|"
                    r"SystemCallFilter|DevicePolicy|DeviceAllow)=.*$", "", text, flags=re.M)
    assert exposure(staged("capture-station.service", tmp_path, weaker)) > 5.0


@pytest.mark.parametrize("name", [n for n in UNIT_NAMES if n.endswith(".service")])
def test_exec_start_is_a_real_command_line(name: str) -> None:
    """The unit runs a sub-command that exists, with options the program accepts."""
    import shlex

    from appliance.cli import build_parser as station_parser
    from practice.cli import build_parser as receiver_parser

    argv = shlex.split(directives(name)["Service.ExecStart"][-1])
    program, args = Path(argv[0]).name, argv[1:]
    parser = {"capture-station": station_parser, "capture-receiver": receiver_parser}[program]()
    parsed = parser.parse_args(args)
    assert callable(parsed.func)
