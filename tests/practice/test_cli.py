"""The command lines, as an admin and IT would use them: real processes, real files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.enrolment import load_enrolment
from appliance.paths import StatePaths
from practice.audit import PracticeAudit
from practice.cli import main as receiver_main
from practice.keys import ReceiverKeys
from practice.store import ReceiverStore
from sync.provisioning import parse_toml as parse_provisioning
from tests.sync.helpers import new_station, unique_name

pytestmark = pytest.mark.usefixtures("no_thread_leaks")
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path):
    ReceiverKeys.create(tmp_path / "recv", unique_name())
    return tmp_path / "recv"


def test_token_writes_a_private_provisioning_file(data_dir, tmp_path, capsys):
    out = tmp_path / "station.toml"
    assert receiver_main(["token", "--data-dir", str(data_dir), "--name", "Room 3",
                          "--out", str(out), "--hours", "2"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    prov = parse_provisioning(out.read_text())
    keys = ReceiverKeys.load(data_dir)
    assert (prov.receiver_name, prov.receiver_pin, prov.station_name) == (
        keys.name, keys.pin, "Room 3")
    assert prov.token not in capsys.readouterr().out  # only the file holds the secret
    assert "token=<hidden>" in repr(prov)
    # two tokens are different and each is stored only as a hash
    receiver_main(["token", "--data-dir", str(data_dir), "--out", str(tmp_path / "b.toml")])
    other = parse_provisioning((tmp_path / "b.toml").read_text())
    assert other.token != prov.token
    assert prov.token.encode() not in (data_dir / "receiver.db").read_bytes()


def test_token_refuses_bad_options(data_dir, tmp_path, capsys):
    assert receiver_main(["token", "--data-dir", str(data_dir), "--hours", "0"]) == 1
    assert "--hours" in capsys.readouterr().err
    assert receiver_main(["token", "--data-dir", str(tmp_path / "none")]) == 1
    assert "capture-receiver init" in capsys.readouterr().err


def test_stations_list_approve_revoke(data_dir, capsys):
    store = ReceiverStore(data_dir)
    token, _ = store.create_token("room 1", 600, require_approval=True)
    station = new_station("exam-1")
    store.redeem_token(token, station.station_id, station.public_raw, "exam-1")
    store.close()
    assert receiver_main(["stations", "--data-dir", str(data_dir)]) == 0
    listing = capsys.readouterr().out
    assert station.station_id in listing and "pending" in listing and "room 1" in listing
    assert receiver_main(["stations", "--data-dir", str(data_dir), "approve",
                          station.station_id]) == 0
    assert "approved" in capsys.readouterr().out
    assert receiver_main(["stations", "--data-dir", str(data_dir), "revoke",
                          station.station_id]) == 0
    store = ReceiverStore(data_dir)
    assert store.station(station.station_id).status == "revoked"
    store.close()
    with PracticeAudit(data_dir) as audit:  # approvals are audited
        assert [(e.event, e.fields["station_id"]) for e in audit.page().items] == [
            ("station.revoked", station.station_id), ("station.approved", station.station_id)]
    assert receiver_main(["stations", "--data-dir", str(data_dir), "approve", "st-nope"]) == 1
    assert "no station" in capsys.readouterr().err
    assert receiver_main(["stations", "--data-dir", str(data_dir), "revoke"]) == 1


def _serve(data_dir, *extra):
    proc = subprocess.Popen(
        [BIN / "capture-receiver", "serve", "--data-dir", data_dir, "--host", "127.0.0.1",
         "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    banner = proc.stdout.readline()
    if not banner:
        proc.kill()
        pytest.fail(proc.stderr.read())
    port = int(banner.split(" on ")[1].split()[0].rsplit(":", 1)[1])
    return proc, port


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_station_enrol_command_finds_receiver_by_mdns(data_dir, tmp_path):
    provision = tmp_path / "provision.toml"
    receiver_main(["token", "--data-dir", str(data_dir), "--name", "exam-7",
                   "--out", str(provision)])
    state = tmp_path / "station-state"
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nstate_dir = "{state}"\n\n[sync]\n'
                      'interfaces = ["127.0.0.1"]\n')
    proc, _ = _serve(data_dir, "--mdns-interface", "127.0.0.1")
    try:
        env = {**os.environ, "CAPTURE_STATION_CONFIG": str(config)}
        first = subprocess.run([BIN / "capture-station", "enrol", "--provision", provision],
                               capture_output=True, text=True, timeout=60, env=env)
        assert first.returncode == 0, first.stderr
        enrolment = load_enrolment(StatePaths(state))
        assert enrolment is not None
        assert f"enrolled as {enrolment.station_id}" in first.stdout
        keys = ReceiverKeys.load(data_dir)
        assert enrolment.practice_key_bytes == keys.practice_public_raw
        assert enrolment.receiver_pin == keys.pin
        assert provision.exists()  # named explicitly: left in place
        # the token was one-time
        again = subprocess.run([BIN / "capture-station", "enrol", "--provision", provision],
                               capture_output=True, text=True, timeout=60, env=env)
        assert again.returncode == 1
        assert "already used" in again.stderr
        assert again.stderr.count("\n") <= 2  # a message, not a traceback
    finally:
        assert _stop(proc) == 0
    store = ReceiverStore(data_dir)
    assert [(s.station_id, s.status, s.room) for s in store.stations()] == [
        (enrolment.station_id, "approved", "exam-7")]
    store.close()


def test_station_enrol_refuses_a_receiver_with_another_key(data_dir, tmp_path):
    rogue_dir = tmp_path / "rogue"
    ReceiverKeys.create(rogue_dir, "practice")
    provision = tmp_path / "provision.toml"
    receiver_main(["token", "--data-dir", str(data_dir), "--out", str(provision)])
    state = tmp_path / "state"
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nstate_dir = "{state}"\n')
    proc, port = _serve(rogue_dir, "--no-mdns")  # a receiver, but not the provisioned one
    try:
        result = subprocess.run(
            [BIN / "capture-station", "--config", config, "enrol", "--provision", provision,
             "--address", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
    finally:
        _stop(proc)
    assert result.returncode == 1
    assert "another TLS key" in result.stderr
    assert "sync.pin_mismatch" in result.stderr
    assert load_enrolment(StatePaths(state)) is None
    rogue_store = ReceiverStore(rogue_dir)
    assert rogue_store.stations() == []
    rogue_store.close()
