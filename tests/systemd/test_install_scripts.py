"""The install scripts, run for real into a DESTDIR with --dry-run (which prints, instead of
running, the commands that would change this machine: apt, useradd, pip, systemctl)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from appliance.config import load_config

ROOT = Path(__file__).resolve().parents[2]
STATION = ROOT / "scripts" / "install-station.sh"
RECEIVER = ROOT / "scripts" / "install-receiver.sh"


def run(script: Path, *args: str, destdir: Path | None, **env: str):
    environ = {**os.environ, **env}
    environ.pop("DESTDIR", None)
    if destdir is not None:
        environ["DESTDIR"] = str(destdir)
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          env=environ, timeout=60)


def planned(result) -> list[list[str]]:
    """The commands the dry run would have run, as argument lists."""
    return [shlex.split(line[2:]) for line in result.stdout.splitlines()
            if line.startswith("+ ")]


def test_scripts_parse():
    for script in (STATION, RECEIVER):
        subprocess.run(["bash", "-n", str(script)], check=True)
        assert os.access(script, os.X_OK)


def test_station_install_on_raspberry_pi_os(tmp_path):
    result = run(STATION, "--dry-run", destdir=tmp_path, CAPTURE_STATION_ASSUME_PI="1")
    assert result.returncode == 0, result.stderr
    commands = planned(result)
    install = next(c for c in commands if "install" in c and "apt-get" in c)
    assert {"python3-picamera2", "libzbar0", "python3-lgpio", "python3-venv",
            "fonts-dejavu-core"} <= set(install)
    venv = next(c for c in commands if c[1:3] == ["-m", "venv"])
    assert "--system-site-packages" in venv
    assert venv[-1] == f"{tmp_path}/opt/capture-station/venv"
    pip = [c for c in commands if c[1:4] == ["-m", "pip", "install"]]
    assert pip[-1][-1] == str(ROOT)
    if any(c[0] == "useradd" for c in commands):  # the user may exist where this runs
        useradd = next(c for c in commands if c[0] == "useradd")
        assert useradd[-1] == "capture-station" and "--system" in useradd
        assert "/usr/sbin/nologin" in useradd
    assert ["usermod", "--append", "--groups", "video", "capture-station"] in commands
    units = ["capture-station.service", "capture-station-provision.service",
             "capture-station-provision.path"]
    assert ["systemctl", "enable", *units] in commands
    assert ["systemctl", "start", "capture-station-provision.path",
            "capture-station.service"] in commands
    for unit in units:
        installed = tmp_path / "etc" / "systemd" / "system" / unit
        assert installed.read_bytes() == (ROOT / "systemd" / unit).read_bytes()
    config = tmp_path / "etc" / "capture-station" / "station.toml"
    assert config.stat().st_mode & 0o777 == 0o640
    assert load_config(config, environ={}).source == str(config)  # valid, all defaults


def test_station_install_elsewhere_skips_the_camera_packages_and_keeps_config(tmp_path):
    config = tmp_path / "etc" / "capture-station" / "station.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[camera]\nbackend = "fake"\n')
    result = run(STATION, "--dry-run", "--no-start", destdir=tmp_path,
                 CAPTURE_STATION_ASSUME_PI="0")
    assert result.returncode == 0, result.stderr
    assert "not Raspberry Pi OS" in result.stdout
    assert "python3-picamera2" not in result.stdout
    assert not any(c[:2] == ["systemctl", "start"] for c in planned(result))
    assert config.read_text() == '[camera]\nbackend = "fake"\n'  # an upgrade keeps it


def test_receiver_install(tmp_path):
    result = run(RECEIVER, "--dry-run", "--name", "practice", destdir=tmp_path)
    assert result.returncode == 0, result.stderr
    commands = planned(result)
    venv = next(c for c in commands if c[1:3] == ["-m", "venv"])
    assert "--system-site-packages" not in venv
    assert ["runuser", "-u", "capture-receiver", "--",
            "/opt/capture-receiver/venv/bin/capture-receiver", "init", "--data-dir",
            "/var/lib/capture-receiver", "--name", "practice"] in commands
    assert ["systemctl", "enable", "capture-receiver.service"] in commands
    unit = tmp_path / "etc" / "systemd" / "system" / "capture-receiver.service"
    assert unit.read_bytes() == (ROOT / "systemd" / "capture-receiver.service").read_bytes()
    data = tmp_path / "var" / "lib" / "capture-receiver"
    assert data.stat().st_mode & 0o777 == 0o700


def test_receiver_install_never_replaces_keys(tmp_path):
    keys = tmp_path / "var" / "lib" / "capture-receiver" / "keys"
    keys.mkdir(parents=True)
    result = run(RECEIVER, "--dry-run", destdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "keeping the existing keys" in result.stdout
    assert not any("init" in c for c in planned(result))


def test_bad_usage(tmp_path):
    for script in (STATION, RECEIVER):
        assert run(script, "--frobnicate", destdir=tmp_path).returncode == 2
        refused = run(script, "--dry-run", destdir=None)  # would write to the real /etc
        assert refused.returncode == 2 and "DESTDIR" in refused.stderr
