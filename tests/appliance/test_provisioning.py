"""`capture-station provision` against a real receiver (pinned TLS on loopback, real zeroconf).

Every failure case checks the same promise: the file is kept byte for byte, and the station
has no config written, no enrolment saved and no admin created.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from appliance import provisioning as prov
from appliance.cli import main
from appliance.config import load_config
from appliance.enrolment import load_enrolment
from appliance.paths import StatePaths
from appliance.web.accounts import ROLES, accounts_path, open_accounts
from sync import provisioning as fmt
from sync.discovery import Advertiser
from sync.provisioning import Admin, Bundle
from tests.sync.helpers import start_receiver
from websecurity.accounts import Accounts

LOOPBACK = ["127.0.0.1"]
OTP = "first-login-pass-42"


def unique_name() -> str:
    """A receiver name of its own: other test runs on this host may advertise on loopback."""
    return f"practice-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def receiver(tmp_path):
    name = unique_name()
    running = start_receiver(tmp_path / "receiver", name=name)
    with Advertiser(name, running.port, running.pin, interfaces=LOOPBACK):
        yield running
    running.stop()


class Station:
    """One blank station: a config file, a state dir and a boot partition, all under tmp."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.boot = root / "boot"
        self.etc = root / "etc"
        self.boot.mkdir(parents=True)
        self.etc.mkdir()
        self.config = self.etc / "station.toml"
        self.file = self.boot / fmt.FILE_NAME
        self.initial_config = (
            f'[station]\nstate_dir = "{self.state}"\n\n'
            f'[camera]\nbackend = "fake"\n\n'
            f'[sync]\ninterfaces = ["127.0.0.1"]\nprovision_file = "{self.file}"\n'
        ).encode()
        self.config.write_bytes(self.initial_config)

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.state)

    def drop(self, bundle: Bundle | str) -> bytes:
        text = bundle if isinstance(bundle, str) else fmt.to_toml(bundle)
        self.file.write_text(text)
        return self.file.read_bytes()

    def provision(self, *extra: str, capsys=None) -> tuple[int, str]:
        code = main(["--config", str(self.config), "provision", "--wait", "5", *extra])
        out = capsys.readouterr() if capsys else None
        return code, (out.out + out.err) if out else ""

    def assert_untouched(self, file_bytes: bytes | None, *, blank: bool = True) -> None:
        """Nothing half-provisioned: config as it was, no enrolment, no admin, no identity
        key, file kept; a ``blank`` station (no state directory before) still has none."""
        assert self.config.read_bytes() == self.initial_config
        assert not self.paths.identity_key.exists()
        if blank:
            assert not self.state.exists(), sorted(map(str, self.state.rglob("*")))
        assert load_enrolment(self.paths) is None
        assert not self.paths.enrolment.exists()
        db = accounts_path(self.paths)
        assert not db.exists() or len(Accounts(db, ROLES)) == 0
        leftovers = [p.name for p in self.state.glob(".provision-*")] if self.state.exists() \
            else []
        assert leftovers == []
        if file_bytes is not None:
            assert self.file.read_bytes() == file_bytes


def make_bundle(receiver, *, token: str | None = None, ttl: float = 600, **changes) -> Bundle:
    if token is None:
        token, _ = receiver.store.create_token("exam-room-3", ttl, require_approval=False)
    fields = dict(receiver_name=receiver.keys.name, receiver_pin=receiver.pin, token=token,
                  station_name="exam-room-3", admin=Admin("it-admin", one_time_password=OTP),
                  settings={"camera": {"jpeg_quality": 95}})
    fields.update(changes)
    return Bundle(**fields)


def registered(receiver) -> list[str]:
    return [s.station_id for s in receiver.store.stations()]


def test_valid_file_enrols_writes_config_creates_admin_and_is_deleted(tmp_path, receiver,
                                                                       capsys):
    station = Station(tmp_path / "station")
    station.drop(make_bundle(receiver))
    code, out = station.provision(capsys=capsys)
    assert code == 0, out
    assert not station.file.exists()

    enrolment = load_enrolment(station.paths)
    assert enrolment is not None
    assert enrolment.receiver_pin == receiver.pin
    assert enrolment.practice_key_bytes == receiver.keys.practice_public_raw
    assert registered(receiver) == [enrolment.station_id]
    assert f"enrolled as {enrolment.station_id}" in out

    cfg = load_config(station.config, environ={})
    assert cfg.sync.receiver_name == receiver.keys.name
    assert cfg.sync.receiver_pin == receiver.pin
    assert cfg.station.name == "exam-room-3"
    assert cfg.camera.jpeg_quality == 95  # the bundle's override
    assert cfg.camera.backend == "fake"  # the existing file's keys are kept
    assert cfg.sync.interfaces == ["127.0.0.1"]
    assert station.config.stat().st_mode & 0o077 == 0o040

    accounts = open_accounts(station.paths)
    admin = accounts.verify("it-admin", OTP)
    assert admin is not None and admin.role == "admin" and admin.must_change_password
    assert OTP not in out


def test_password_hash_admin_and_pending_approval(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    token, _ = receiver.store.create_token("room", 600, require_approval=True)
    encoded = PasswordHasher().hash("a long admin password")
    station.drop(make_bundle(receiver, token=token, admin=Admin("boss", password_hash=encoded)))
    code, out = station.provision(capsys=capsys)
    assert code == 0, out
    enrolment = load_enrolment(station.paths)
    assert f"stations approve {enrolment.station_id}" in out
    account = open_accounts(station.paths).verify("boss", "a long admin password")
    assert account is not None and not account.must_change_password


def test_reused_token_fails_clearly(tmp_path, receiver, capsys):
    first, second = Station(tmp_path / "one"), Station(tmp_path / "two")
    bundle = make_bundle(receiver)
    first.drop(bundle)
    assert first.provision(capsys=capsys)[0] == 0
    kept = second.drop(bundle)  # the same file, copied to a second station
    code, out = second.provision(capsys=capsys)
    assert code == 1
    assert "already used" in out and "provisioning failed" in out
    assert bundle.token not in out
    second.assert_untouched(kept)
    assert len(registered(receiver)) == 1


def test_expired_token_fails_clearly(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    kept = station.drop(make_bundle(receiver, ttl=-1))
    code, out = station.provision(capsys=capsys)
    assert code == 1 and "expired" in out
    station.assert_untouched(kept)
    assert registered(receiver) == []


def test_wrong_pin_sends_nothing_and_keeps_nothing(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    kept = station.drop(make_bundle(receiver, receiver_pin="0" * 64))
    code, out = station.provision(capsys=capsys)
    assert code == 1
    assert "has another TLS key" in out
    station.assert_untouched(kept)
    assert registered(receiver) == []


def test_unknown_keys_fail_before_the_network(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    bundle = make_bundle(receiver)
    kept = station.drop(fmt.to_toml(bundle).replace("[admin]\n", "[admin]\nrole = \"root\"\n"))
    code, out = station.provision(capsys=capsys)
    assert code == 1
    assert "[admin] role: unknown key" in out
    station.assert_untouched(kept)
    # The token was not spent: the corrected file works.
    station.drop(bundle)
    assert station.provision(capsys=capsys)[0] == 0


@pytest.mark.parametrize("settings, fragment", [
    ({"camera": {"jpeg_quality": 5}}, "[camera] jpeg_quality = 5 is too small"),
    ({"camera": {"jpg_quality": 90}}, "did you mean 'jpeg_quality'"),
    ({"sync": {"receiver_pin": "1" * 64}}, "[settings.sync] receiver_pin: set by the bundle"),
    ({"station": {"state_dir": "/tmp/elsewhere"}}, "[settings.station] state_dir"),
])
def test_settings_are_validated_with_the_config_schema(tmp_path, receiver, capsys, settings,
                                                       fragment):
    station = Station(tmp_path / "station")
    kept = station.drop(make_bundle(receiver, settings=settings))
    code, out = station.provision(capsys=capsys)
    assert code == 1 and fragment in out, out
    station.assert_untouched(kept)
    assert registered(receiver) == []


def test_admin_rules_are_checked_before_enrolling(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    weak = make_bundle(receiver, admin=Admin("it-admin", one_time_password="it-admin-2024-x"))
    kept = station.drop(weak)
    code, out = station.provision(capsys=capsys)
    assert code == 1 and "must not contain the user name" in out
    station.assert_untouched(kept)
    assert registered(receiver) == []


def test_missing_receiver(tmp_path, capsys):
    alone = start_receiver(tmp_path / "receiver", name=unique_name())  # not advertised
    try:
        station = Station(tmp_path / "station")
        kept = station.drop(make_bundle(alone))
        code, out = station.provision("--wait", "1", capsys=capsys)
        assert code == 1
        assert f"no receiver named {alone.keys.name!r}" in out
        station.assert_untouched(kept)
    finally:
        alone.stop()


def test_address_option_skips_mdns_but_not_the_pin(tmp_path, capsys):
    alone = start_receiver(tmp_path / "receiver", name=unique_name())
    try:
        station = Station(tmp_path / "station")
        station.drop(make_bundle(alone))
        code, out = station.provision("--address", f"127.0.0.1:{alone.port}", capsys=capsys)
        assert code == 0, out
        assert registered(alone) == [load_enrolment(station.paths).station_id]
    finally:
        alone.stop()


def test_no_file(tmp_path, capsys):
    station = Station(tmp_path / "station")
    code, out = station.provision(capsys=capsys)
    assert code == 1 and "no provisioning file at" in out and "capture-receiver token" in out


def test_already_enrolled_station_refuses(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    station.drop(make_bundle(receiver))
    assert station.provision(capsys=capsys)[0] == 0
    config_after = station.config.read_bytes()
    kept = station.drop(make_bundle(receiver, admin=Admin("second", one_time_password=OTP)))
    code, out = station.provision(capsys=capsys)
    assert code == 1 and "already enrolled" in out
    assert station.file.read_bytes() == kept
    assert station.config.read_bytes() == config_after
    assert open_accounts(station.paths).get("second") is None
    assert len(registered(receiver)) == 1


def test_a_local_failure_after_enrolment_is_rolled_back(tmp_path, receiver, capsys):
    station = Station(tmp_path / "station")
    kept = station.drop(make_bundle(receiver))
    station.paths.ensure()
    station.paths.enrolment.mkdir()  # the enrolment record cannot be written
    code, out = station.provision(capsys=capsys)
    assert code == 1
    (station_id,) = registered(receiver)
    assert f"registered this station as {station_id}" in out
    assert f"stations revoke {station_id}" in out
    station.paths.enrolment.rmdir()
    station.assert_untouched(kept, blank=False)  # its directories were there before


def test_bundle_file_is_applied_from_the_config_default_and_legacy_paths(tmp_path, receiver):
    station = Station(tmp_path / "station")
    cfg = load_config(station.config, environ={})
    assert prov.default_bundle_path(cfg) == station.file


def test_logs_never_show_secrets(tmp_path, receiver, capsys, caplog):
    station = Station(tmp_path / "station")
    bundle = make_bundle(receiver, receiver_pin="0" * 64)
    station.drop(bundle)
    caplog.set_level("DEBUG")
    station.provision(capsys=capsys)
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert "sync.pin_mismatch" in logged  # the audit event is there ...
    assert bundle.token not in logged and OTP not in logged  # ... without the secrets



def test_spent_file_removal_is_durable_and_tolerates_fat(tmp_path, monkeypatch):
    """unlink + directory fsync (sync.durable); a FAT driver refusing the fsync is no error,
    a refused unlink is (the file holds a secret), and a file already gone is fine."""
    from sync import durable

    spent = tmp_path / fmt.FILE_NAME
    spent.write_text("secret")
    synced = []
    monkeypatch.setattr(durable, "fsync_dir", synced.append)
    prov.remove_bundle_file(spent)
    assert not spent.exists() and synced == [tmp_path]

    def fat_driver(directory):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(durable, "fsync_dir", fat_driver)
    spent.write_text("secret")
    prov.remove_bundle_file(spent)
    assert not spent.exists()
    prov.remove_bundle_file(spent)  # already gone

    def read_only(self, missing_ok=False):
        raise PermissionError(13, "Permission denied")

    spent.write_text("secret")
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(PermissionError):
        prov.remove_bundle_file(spent)
    assert spent.exists()


def test_provision_writes_a_config_that_does_not_exist_yet(tmp_path, receiver, capsys,
                                                           monkeypatch):
    station = Station(tmp_path / "station")
    new_config = station.etc / "new.toml"
    monkeypatch.setenv("CAPTURE_STATION_STATION_STATE_DIR", str(station.state))
    monkeypatch.setenv("CAPTURE_STATION_SYNC_INTERFACES", "127.0.0.1")
    station.drop(make_bundle(receiver))
    code = main(["provision", "--config", str(new_config), "--file", str(station.file),
                 "--wait", "5"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"config written to {new_config}" in out.out
    written = load_config(new_config, environ={})
    assert written.sync.receiver_pin == receiver.pin
    assert written.station.name == "exam-room-3"
    assert load_enrolment(station.paths) is not None
    assert not station.file.exists()


def test_failed_provision_into_a_new_config_leaves_nothing(tmp_path, receiver, capsys,
                                                           monkeypatch):
    station = Station(tmp_path / "station")
    new_config = station.etc / "new.toml"
    state = tmp_path / "fresh" / "var" / "lib" / "capture-station"
    monkeypatch.setenv("CAPTURE_STATION_STATION_STATE_DIR", str(state))
    monkeypatch.setenv("CAPTURE_STATION_SYNC_INTERFACES", "127.0.0.1")
    kept = station.drop(make_bundle(receiver, ttl=-1))  # the receiver refuses the token
    code = main(["provision", "--config", str(new_config), "--file", str(station.file),
                 "--wait", "5"])
    err = capsys.readouterr().err
    assert code == 1 and "expired" in err and "Traceback" not in err
    assert not new_config.exists()
    assert not (tmp_path / "fresh").exists()  # no identity.pem, no directories
    assert station.file.read_bytes() == kept


def test_an_environment_variable_that_breaks_the_config_is_named(tmp_path, receiver, capsys,
                                                                 monkeypatch):
    station = Station(tmp_path / "station")
    kept = station.drop(make_bundle(receiver))
    bad = {"CAPTURE_STATION_VAULT_RESERVE_MB": "lots"}
    with pytest.raises(fmt.ProvisioningError) as info:
        prov.apply_bundle(fmt.read_toml(station.file), station.config,
                          locate=prov.mdns_locate(5), environ=bad)
    assert "not valid with this environment's CAPTURE_STATION_* variables" in str(info.value)
    assert "environment variable CAPTURE_STATION_VAULT_RESERVE_MB" in str(info.value)
    monkeypatch.setenv(*next(iter(bad.items())))
    code, out = station.provision(capsys=capsys)  # the command says so before it starts
    assert code == 2 and "environment variable CAPTURE_STATION_VAULT_RESERVE_MB" in out
    station.assert_untouched(kept)
    assert registered(receiver) == []
