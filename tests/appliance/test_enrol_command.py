"""`capture-station enrol` and `provision` share one enrolment path: the same bundle parser,
the same `--address` parser, the same receiver lookup and the same deletion of the spent file.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.enrolment import load_enrolment
from appliance.paths import StatePaths
from sync import provisioning as fmt
from sync.provisioning import Admin, Bundle

OTP = "first-login-pass-42"
COMMANDS = ["enrol", "provision"]


class Station:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.file = root / "boot" / fmt.FILE_NAME
        self.file.parent.mkdir(parents=True)
        self.config = root / "etc" / "station.toml"
        self.config.parent.mkdir()
        self.config.write_text(f'[station]\nstate_dir = "{self.state}"\n\n'
                               f'[camera]\nbackend = "fake"\n\n'
                               f'[sync]\nprovision_file = "{self.file}"\n')

    def run(self, command: str, *extra: str) -> int:
        return main(["--config", str(self.config), command, *extra])


def bundle_for(name: str, pin: str, token: str) -> Bundle:
    return Bundle(receiver_name=name, receiver_pin=pin, token=token, station_name="exam-9",
                  admin=Admin("it-admin", one_time_password=OTP))


def closed_port(host: str, family: socket.AddressFamily) -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value, fragment", [
    ("127.0.0.1", "is not HOST:PORT"),
    ("practice.local:0", "the port must be 1 to 65535"),
    ("::1:8444", "[::1]:8444"),
])
def test_both_commands_refuse_a_bad_address_as_a_usage_error(tmp_path, capsys, command, value,
                                                             fragment):
    station = Station(tmp_path)
    with pytest.raises(SystemExit) as info:
        station.run(command, "--address", value)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --address" in err and fragment in err
    assert not station.state.exists()  # refused before anything was made


@pytest.mark.parametrize("command", COMMANDS)
def test_both_commands_try_a_bracketed_ipv6_address(tmp_path, capsys, command):
    station = Station(tmp_path)
    station.file.write_text(fmt.to_toml(bundle_for("practice", "ab" * 32, "t" * 32)))
    port = closed_port("::1", socket.AF_INET6)
    assert station.run(command, "--address", f"[::1]:{port}") == 1
    err = capsys.readouterr().err
    assert f"could not enrol: ::1:{port}: " in err  # tried host ::1, without the brackets
    assert station.file.exists()
    assert load_enrolment(StatePaths(station.state)) is None


def test_enrol_refuses_a_file_provision_refuses(tmp_path, capsys):
    """One strict parser: an unknown key is an error for `enrol` as for `provision`."""
    station = Station(tmp_path)
    text = fmt.to_toml(bundle_for("practice", "ab" * 32, "t" * 32))
    station.file.write_text(text.replace("[sync]\n", "[sync]\nreceiver_port = 1\n"))
    for command in COMMANDS:
        assert station.run(command, "--address", "127.0.0.1:9") == 1
        err = capsys.readouterr().err
        assert "[sync] receiver_port: unknown key" in err
        assert "t" * 32 not in err
    assert not station.state.exists() or load_enrolment(StatePaths(station.state)) is None


def test_enrol_without_provision_deletes_the_configured_file(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    token, _ = receiver.store.create_token("exam-9", 600, require_approval=False)
    station.file.write_text(fmt.to_toml(bundle_for(receiver.keys.name, receiver.pin, token)))
    assert station.run("enrol", "--address", f"127.0.0.1:{receiver.port}") == 0
    enrolment = load_enrolment(StatePaths(station.state))
    assert enrolment is not None and enrolment.receiver_pin == receiver.pin
    assert f"enrolled as {enrolment.station_id}" in capsys.readouterr().out
    assert not station.file.exists()  # the spent secret is gone
    assert [s.station_id for s in receiver.store.stations()] == [enrolment.station_id]
