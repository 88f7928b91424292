"""The provisioning bundle format: TOML and QR round trips, strict validation, no secret leaks."""

from __future__ import annotations

import io
import os
import stat
import tomllib

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from sync import provisioning as prov
from sync.provisioning import Admin, Bundle, BundleError

PIN = "ab" * 32
TOKEN = "tok_" + "Zq9" * 10
HASH = ("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA"
        "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0cSbfTAV3Wk")
OTP = "correct-horse-battery"


def bundle(**changes) -> Bundle:
    fields = dict(station_name="exam-room-3", receiver_name="practice", receiver_pin=PIN,
                  token=TOKEN, admin=Admin("it-admin", one_time_password=OTP))
    fields.update(changes)
    return Bundle(**fields)


def toml_of(b: Bundle) -> dict:
    return tomllib.loads(prov.to_toml(b))


def problems_of(text: str) -> list[str]:
    with pytest.raises(BundleError) as info:
        prov.parse_toml(text, source="test.toml")
    assert info.value.source == "test.toml"
    return info.value.problems


def render(data: dict) -> str:
    lines = [f"version = {prov.toml_value(data.pop('version'))}"] if "version" in data else []
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {prov.toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{name} = {prov.toml_value(table)}")
    return "\n".join(lines) + "\n"


def valid_data() -> dict:
    return toml_of(bundle())


@pytest.mark.parametrize("admin", [Admin("it-admin", one_time_password=OTP),
                                   Admin("admin", password_hash=HASH)])
def test_toml_round_trip(admin: Admin) -> None:
    original = bundle(admin=admin, expires_at="2030-01-02T03:04:05Z",
                      settings={"camera": {"jpeg_quality": 95, "autofocus": False},
                                "gpio": {"hold_seconds": 2.5},
                                "barcode": {"formats": ["code128", "qrcode"], "local_formats": [
                                    {"symbology": "code128", "pattern": r"^MRN(?P<id>\d+)$",
                                     "issuer": "ST-MARY"}]}})
    text = prov.to_toml(original)
    assert text.startswith("# capture-station provisioning bundle")
    assert prov.parse_toml(text) == original


def test_non_ascii_names_round_trip() -> None:
    original = bundle(station_name="Salle d’examen 3", receiver_name="Cabinet Müller")
    assert prov.parse_toml(prov.to_toml(original)) == original
    assert prov.parse_qr_payload(prov.to_qr_payload(original)) == original


def test_unknown_keys_are_errors_everywhere() -> None:
    data = valid_data()
    data["extra"] = 1
    data["admin"]["role"] = "admin"
    data["sync"]["interfaces"] = []
    problems = problems_of(render(data))
    assert any(p.startswith("extra: unknown key") for p in problems)
    assert any(p.startswith("[admin] role: unknown key") for p in problems)
    assert any(p.startswith("[sync] interfaces: unknown key") for p in problems)


@pytest.mark.parametrize("version, expected", [
    (None, "version is missing"), (2, "version 2 is not supported"),
    ("1", "version must be an integer"), (True, "version must be an integer"),
])
def test_version_checked(version, expected: str) -> None:
    data = valid_data()
    del data["version"]
    if version is not None:
        data = {"version": version, **data}
    problems = problems_of(render(data))
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_tables_and_keys_are_listed_together() -> None:
    data = valid_data()
    del data["admin"]
    del data["sync"]["receiver_pin"]
    problems = problems_of(render(data))
    assert "[admin] is missing" in problems
    assert "[sync] receiver_pin is missing" in problems


@pytest.mark.parametrize("table, key, value, fragment", [
    ("sync", "receiver_pin", "AB" * 32, "[sync] receiver_pin must be 64 lowercase hex"),
    ("sync", "receiver_pin", "ab" * 31, "[sync] receiver_pin must be 64 lowercase hex"),
    ("enrolment", "token", "short", "[enrolment] token is malformed"),
    ("enrolment", "token", "has spaces in it ok?", "[enrolment] token is malformed"),
    ("enrolment", "expires_at", "tomorrow", "[enrolment] expires_at must be a UTC time"),
    ("enrolment", "station_name", " ", "[enrolment] station_name must be 1 to 64"),
    ("enrolment", "station_name", "x" * 65, "[enrolment] station_name must be 1 to 64"),
    ("enrolment", "station_name", "bell\x07", "[enrolment] station_name must be printable"),
    ("sync", "receiver_name", "", "[sync] receiver_name must be 1 to 64"),
    ("sync", "receiver_name", 7, "[sync] receiver_name must be a string"),
    ("admin", "name", "Root User", "[admin] name must be"),
    ("admin", "name", "-x", "[admin] name must be"),
    ("admin", "one_time_password", "short", "[admin] one_time_password must be 12 to 256"),
    ("admin", "password_hash", "plain-text-password", "[admin] needs exactly one"),
])
def test_bad_values_named(table: str, key: str, value, fragment: str) -> None:
    data = valid_data()
    data[table][key] = value
    problems = problems_of(render(data))
    assert any(p.startswith(fragment) for p in problems), problems


@pytest.mark.parametrize("encoded", ["$2b$12$abcdefghijklmnopqrstuv", HASH.replace("argon2id",
                                                                                  "argon2i")])
def test_hash_must_be_argon2id(encoded: str) -> None:
    data = valid_data()
    del data["admin"]["one_time_password"]
    data["admin"]["password_hash"] = encoded
    assert any("not an Argon2id PHC string" in p for p in problems_of(render(data)))


def test_settings_must_be_tables() -> None:
    text = prov.to_toml(bundle()) + "\n[settings]\ncamera = 5\n"
    assert any(p.startswith("[settings.camera] must be a table") for p in problems_of(text))


def test_not_toml() -> None:
    assert problems_of("version = = 1")[0].startswith("not valid TOML")


def test_errors_and_repr_never_show_secrets() -> None:
    data = valid_data()
    data["admin"]["one_time_password"] = " " + OTP  # invalid: leading space
    data["enrolment"]["token"] = TOKEN + " !"
    with pytest.raises(BundleError) as info:
        prov.parse_toml(render(data))
    shown = str(info.value) + repr(info.value)
    assert OTP not in shown and TOKEN not in shown
    b = bundle()
    assert TOKEN not in repr(b) and OTP not in repr(b) and PIN not in repr(b)


def test_qr_payload_is_compact_and_round_trips() -> None:
    original = bundle(admin=Admin("admin", password_hash=HASH), expires_at="2030-01-02T03:04:05Z",
                      settings={"camera": {"jpeg_quality": 95}})
    payload = prov.to_qr_payload(original)
    assert payload.startswith("CSP1{") and prov.is_qr_payload(payload)
    assert PIN not in payload  # the pin travels as base64url, 43 characters instead of 64
    assert len(payload) < len(prov.to_toml(original)) / 2
    assert prov.parse_qr_payload(payload) == original


@pytest.mark.parametrize("payload, fragment", [
    ("MRN0012345", "not a provisioning QR code"),
    ("CSP1{not json", "not valid JSON"),
    ("CSP1[1,2]", "not a JSON object"),
    ('CSP1{"s":"a","r":"b","p":"x","t":"' + TOKEN + '","a":"admin","o":"' + OTP + '","z":1}',
     "z: unknown key"),
    ('CSP1{"s":"a","r":"b","p":"x","t":"' + TOKEN + '","a":"admin","o":"' + OTP + '"}',
     "[sync] receiver_pin must be"),
    ('CSP1{"s":"a","p":"x"}', "receiver_name is missing"),
])
def test_bad_qr_payloads(payload: str, fragment: str) -> None:
    with pytest.raises(BundleError) as info:
        prov.parse_qr_payload(payload)
    assert any(fragment in p for p in info.value.problems), info.value.problems


def test_qr_png_decodes_to_the_bundle() -> None:
    original = bundle(station_name="Salle d’examen 3")
    png = prov.qr_png(original, module_px=4)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    reads = zxingcpp.read_barcodes(np.asarray(image.convert("L")),
                                   formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(reads) == 1
    assert prov.parse_qr_payload(reads[0].text) == original


def test_write_toml_is_owner_only(tmp_path) -> None:
    target = tmp_path / prov.FILE_NAME
    target.write_text("old")
    os.chmod(target, 0o644)
    prov.write_toml(target, bundle())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert prov.parse_toml(target.read_text()) == bundle()
    assert [p.name for p in tmp_path.iterdir()] == [prov.FILE_NAME]


def test_write_toml_is_durable_and_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    """Written through sync.durable: fsync of the directory too, and a failure keeps the old."""
    from sync import durable

    synced = []
    real_fsync_dir = durable.fsync_dir
    monkeypatch.setattr(durable, "fsync_dir", lambda d: (synced.append(d), real_fsync_dir(d)))
    target = tmp_path / prov.FILE_NAME
    prov.write_toml(target, bundle())
    assert synced == [tmp_path]
    target.write_text("old")

    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable.DurableFile, "write", full_disk)
    with pytest.raises(OSError):
        prov.write_toml(target, bundle())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == [prov.FILE_NAME]


def test_read_toml_names_the_file_and_tells_missing_from_invalid(tmp_path) -> None:
    missing = tmp_path / "none.toml"
    with pytest.raises(prov.ProvisioningError) as info:
        prov.read_toml(missing)
    assert not isinstance(info.value, BundleError)  # nothing to fix in a file that is not there
    assert f"no provisioning file at {missing}" in str(info.value)
    assert "capture-receiver token" in str(info.value)

    damaged = tmp_path / "damaged.toml"
    damaged.write_text(prov.to_toml(bundle()).replace(TOKEN, "short"))
    with pytest.raises(BundleError) as bad:
        prov.read_toml(damaged)
    assert bad.value.source == str(damaged)
    assert bad.value.problems == ["[enrolment] token is malformed (expected 16-256 printable "
                                  "characters, as written by `capture-receiver token`)"]

    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(prov.ProvisioningError, match="cannot read"):
        prov.read_toml(binary)


def test_one_error_family_for_provisioning() -> None:
    """Callers catch ProvisioningError; BundleError (fix the file) and EnrolError (the
    receiver or network said no) are the two causes they may need to tell apart."""
    from sync.enrol import EnrolError

    assert issubclass(BundleError, prov.ProvisioningError)
    assert issubclass(EnrolError, prov.ProvisioningError)
    assert not issubclass(EnrolError, BundleError)
    assert issubclass(BundleError, ValueError)  # as before: a bad value


def test_station_name_is_optional() -> None:
    original = bundle(station_name="")
    assert "station_name" not in prov.to_toml(original)
    assert prov.parse_toml(prov.to_toml(original)) == original
    assert prov.parse_qr_payload(prov.to_qr_payload(original)) == original


def test_enrol_command_reads_the_same_file(tmp_path) -> None:
    """`capture-station enrol --provision` reads the file with the one parser, read_toml."""
    original = bundle(expires_at="2030-01-02T03:04:05Z", settings={"camera": {"autofocus": True}})
    prov.write_toml(tmp_path / prov.FILE_NAME, original)
    seen = prov.read_toml(tmp_path / prov.FILE_NAME)
    assert (seen.receiver_name, seen.receiver_pin, seen.token, seen.station_name,
            seen.expires_at) == ("practice", PIN, TOKEN, "exam-room-3", "2030-01-02T03:04:05Z")


# -- the receiver's writer: `capture-receiver token` ------------------------------------------

@pytest.fixture
def data_dir(tmp_path):
    from practice.keys import ReceiverKeys

    ReceiverKeys.create(tmp_path / "recv", "practice")
    return tmp_path / "recv"


def token_count(data_dir) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "receiver.db") as db:
        return db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0]


def test_token_command_writes_bundle_qr_and_prints_the_one_time_password(data_dir, tmp_path,
                                                                          capsys):
    from practice.cli import main as receiver_main
    from practice.keys import ReceiverKeys

    out, qr = tmp_path / "capture-station.toml", tmp_path / "capture-station.png"
    assert receiver_main(["token", "--data-dir", str(data_dir), "--name", "exam-room-3",
                          "--admin", "it-admin", "--out", str(out), "--qr", str(qr)]) == 0
    printed = capsys.readouterr().out
    keys = ReceiverKeys.load(data_dir)
    written = prov.parse_toml(out.read_text())
    assert (written.receiver_name, written.receiver_pin, written.station_name,
            written.admin.name) == (keys.name, keys.pin, "exam-room-3", "it-admin")
    assert prov.EXPIRES_RE.fullmatch(written.expires_at)
    assert f"one-time password: {written.admin.one_time_password} " in printed
    assert written.token not in printed
    for path in (out, qr):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reads = zxingcpp.read_barcodes(np.asarray(Image.open(qr).convert("L")),
                                   formats=zxingcpp.BarcodeFormat.QRCode)
    assert [prov.parse_qr_payload(r.text) for r in reads] == [written]


def test_token_command_with_a_password_hash(data_dir, capsys):
    from practice.cli import main as receiver_main

    assert receiver_main(["token", "--data-dir", str(data_dir),
                          "--admin-password-hash", HASH]) == 0
    written = prov.parse_toml(capsys.readouterr().out)
    assert written.admin == Admin("admin", password_hash=HASH)
    assert written.station_name == ""


@pytest.mark.parametrize("option, value, fragment", [
    ("--admin", "Root", "[admin] name must be"),
    ("--admin-password-hash", "hunter2", "not an Argon2id PHC string"),
    ("--name", " padded", "[enrolment] station_name must be printable"),
])
def test_token_command_refuses_a_bad_bundle_before_issuing_a_token(data_dir, capsys, option,
                                                                   value, fragment):
    from practice.cli import main as receiver_main

    before = token_count(data_dir) if (data_dir / "receiver.db").exists() else 0
    assert receiver_main(["token", "--data-dir", str(data_dir), option, value]) == 1
    assert fragment in capsys.readouterr().err
    after = token_count(data_dir) if (data_dir / "receiver.db").exists() else 0
    assert after == before
