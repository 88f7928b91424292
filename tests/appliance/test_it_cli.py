"""`capture-station` as IT meets it provisioning twenty stations: the doctor run as the wrong
user, the receiver check, environment variables, untrusted text on the terminal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from appliance.cli import main
from appliance.enrolment import Enrolment, save_enrolment
from appliance.paths import StatePaths
from capture.fake import Scene, Symbol
from practice.keys import ReceiverKeys
from sync.discovery import Advertiser
from tests.barcode.corpus import Case, frame
from tests.sync.helpers import b64, start_receiver, unique_name

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = ["127.0.0.1"]


def station_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\nstate_dir = "{tmp_path / "state"}"\n'
        '[camera]\nbackend = "fake"\n[gpio]\npin_factory = "mock"\n[vault]\nreserve_mb = 16\n'
        '[sync]\ninterfaces = ["127.0.0.1"]\n' + extra)
    return path


def enrol_with(tmp_path: Path, keys: ReceiverKeys) -> None:
    save_enrolment(StatePaths(tmp_path / "state"), Enrolment(
        station_id="st-" + "1" * 24, receiver_name=keys.name, receiver_pin=keys.pin,
        practice_public_key=b64(keys.practice_public_raw),
        receipt_public_key=b64(keys.receipt_public_raw)))


def doctor_json(capsys, cfg: Path, *extra: str) -> tuple[int, dict[str, dict]]:
    code = main(["doctor", "--config", str(cfg), "--json", *extra])
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in report["checks"]}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- doctor as another user than the service's ----------------------------------------------------

def _as_another_user(state: Path) -> list[str]:
    """A command prefix under which ``state`` cannot be read: root without its override of
    file permissions (the directory belongs to nobody), or, as a plain user, a 0000 mode."""
    if os.geteuid() == 0:
        os.chown(state, 65534, 65534)
        for path in state.rglob("*"):
            os.chown(path, 65534, 65534)
        state.chmod(0o700)
        return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    state.chmod(0)
    return []


def test_doctor_as_another_user_says_it_cannot_read_the_state_and_how_to_run_it(tmp_path):
    cfg = station_config(tmp_path)
    keys = ReceiverKeys.create(tmp_path / "recv", unique_name())
    enrol_with(tmp_path, keys)
    prefix = _as_another_user(tmp_path / "state")
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "appliance.cli", "doctor", "--config", str(cfg)],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        (tmp_path / "state").chmod(0o700)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "not enrolled" not in result.stdout and "enrol --provision" not in result.stdout
    assert f"cannot read the state directory {tmp_path / 'state'}" in result.stdout
    owner = "nobody" if os.geteuid() == 0 else "capture-station"
    assert f"sudo -u {owner} capture-station doctor --config {cfg}" in result.stdout
    assert "NOT ready: state_dir" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to own the directory")
def test_doctor_readable_but_not_writable_state_names_its_owner(tmp_path):
    cfg = station_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chown(state, 65534, 65534)
    result = subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", sys.executable,
         "-m", "appliance.cli", "doctor", "--config", str(cfg), "--offline"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not writable" in result.stdout
    assert f"sudo -u nobody capture-station doctor --config {cfg}" in result.stdout


def test_doctor_unreadable_config_says_how_to_run_it(tmp_path):
    cfg = station_config(tmp_path)
    cfg.chmod(0o600)
    prefix = []
    if os.geteuid() == 0:
        os.chown(cfg, 65534, 65534)
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    else:
        cfg.chmod(0)
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "appliance.cli", "doctor", "--config", str(cfg)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "sudo -u capture-station capture-station doctor" in result.stderr


# -- doctor and the receiver ----------------------------------------------------------------------

def test_doctor_finds_the_receiver_over_mdns_and_checks_tls_and_pin(tmp_path, capsys):
    running = start_receiver(tmp_path / "recv")
    try:
        enrol_with(tmp_path, running.keys)
        with Advertiser(running.keys.name, running.port, running.pin, interfaces=LOOPBACK):
            code, checks = doctor_json(capsys, station_config(tmp_path), "--wait", "10")
    finally:
        running.stop()
    assert code == 0
    receiver = checks["receiver"]
    assert receiver["status"] == "ok"
    assert receiver["detail"].startswith(f"mDNS: 127.0.0.1:{running.port}")
    assert "TLS handshake ok; pin matches" in receiver["detail"]


def test_doctor_refuses_a_receiver_showing_another_key(tmp_path, capsys):
    genuine = ReceiverKeys.create(tmp_path / "genuine", unique_name())
    rogue = start_receiver(tmp_path / "rogue")
    try:
        enrol_with(tmp_path, genuine)
        code, checks = doctor_json(capsys, station_config(tmp_path), "--address",
                                   f"127.0.0.1:{rogue.port}")
    finally:
        rogue.stop()
    assert code == 1
    assert checks["receiver"]["status"] == "fail"
    assert "pin MISMATCH" in checks["receiver"]["detail"]


def test_doctor_unreachable_receiver_is_a_warning(tmp_path, capsys):
    enrol_with(tmp_path, ReceiverKeys.create(tmp_path / "recv", unique_name()))
    port = _closed_port()
    code, checks = doctor_json(capsys, station_config(tmp_path), "--address",
                               f"127.0.0.1:{port}")
    assert code == 0  # captures queue until the receiver answers
    assert checks["receiver"]["status"] == "warn"
    assert f"127.0.0.1:{port}" in checks["receiver"]["detail"]


def test_doctor_not_found_over_mdns_says_what_to_check(tmp_path, capsys):
    enrol_with(tmp_path, ReceiverKeys.create(tmp_path / "recv", unique_name()))
    code, checks = doctor_json(capsys, station_config(tmp_path), "--wait", "0.5")
    assert code == 0
    assert checks["receiver"]["status"] == "warn"
    assert "mDNS: no receiver" in checks["receiver"]["detail"]
    assert "capture-receiver serve" in checks["receiver"]["fix"]


def test_doctor_offline_skips_the_receiver(tmp_path, capsys):
    enrol_with(tmp_path, ReceiverKeys.create(tmp_path / "recv", unique_name()))
    _, checks = doctor_json(capsys, station_config(tmp_path), "--offline")
    assert "receiver" not in checks and checks["enrolment"]["status"] == "ok"


# -- environment variables ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "value", "says"), [
    ("CAPTURE_STATION_VAULT_RESERVE_MB", "lots", "has the wrong type"),
    ("CAPTURE_STATION_WEB_ENABLED", "maybe", "has the wrong type"),
    ("CAPTURE_STATION_VAULT_RESERVE_MB", "-3", "is too small"),
])
def test_a_wrong_environment_variable_is_reported_as_one(tmp_path, name, value, says):
    cfg = station_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "config", "check", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO), name: value})
    assert result.returncode == 2
    assert f"{cfg} and the environment" in result.stderr
    line = next(line for line in result.stderr.splitlines() if name in line)
    assert line.strip().startswith(f"- environment variable {name} (for [")
    assert says in line


# -- untrusted text on the terminal ---------------------------------------------------------------

def test_scan_prints_hostile_barcode_text_and_file_names_inert(tmp_path, capsys):
    cfg = station_config(tmp_path)
    image = tmp_path / "evil.png"
    symbol = Symbol("qrcode", "CSCMD1:\x1b]0;owned\x07\x1b[2J", module_px=6)
    Image.fromarray(frame(Case("evil", "640", Scene(symbols=(symbol,)), ()))).save(image)
    missing = tmp_path / "no\x1b[31mfile.png"
    assert main(["scan", "--config", str(cfg), str(image), str(missing)]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out and "\x07" not in out and "\x1b" not in err
    assert json.loads(out.splitlines()[0])["results"][0]["symbology"] == "qrcode"
    assert "no\\x1b[31mfile.png: no such file" in err
