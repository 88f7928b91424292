"""``capture-receiver init`` and ``open``, run as real subprocesses (the installed entry point)."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PIL import Image

from practice.keys import ReceiverKeys
from practice.store import ReceiverStore
from sync import envelope as env
from tests.sync.helpers import Station, b64, new_station, uuid7

PATIENT = "0000000000004711234"
#: The station registered in the module's receiver (created once, at import).
STATION = new_station("exam-3")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "capture-receiver"), *map(str, args)],
        capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def _jpeg(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _register(data: Path, station: Station, status: str = "approved") -> None:
    store = ReceiverStore(data)
    try:
        token, _ = store.create_token("room 3", 600, require_approval=False)
        store.redeem_token(token, station.station_id, station.public_raw, station.name)
        store.set_status(station.station_id, status)
    finally:
        store.close()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    data = tmp_path_factory.mktemp("rx") / "data"
    result = cli("init", "--data-dir", data, "--name", "practice-rx")
    assert result.returncode == 0, result.stderr
    _register(data, STATION)
    return data, result.stdout


def _sealed(data: Path, tmp: Path, *, kind: str = "capture", station: Station = STATION,
            named: str | None = None) -> tuple[Path, dict, bytes]:
    """A sealed item made by ``station`` (whose metadata names ``named``, if given)."""
    keys = ReceiverKeys.load(data)
    station_id = named or station.station_id
    recipients = [keys.practice_public, X25519PrivateKey.generate().public_key()]  # + review
    item = uuid7()
    common = {"recipients": recipients, "station_key": station.key, "item_id": item}
    image = _jpeg()
    if kind == "capture":
        meta = {"station_id": station_id, "capture_id": item, "patient_id": PATIENT,
                "issuer": "HOSP", "captured_at": "2025-03-04T10:11:12Z", "body_site": "heel"}
        sealed = env.seal("capture", meta, {"image": image, "preview": _jpeg((8, 6))}, **common)
    elif kind == "amendment":
        meta = {"station_id": station_id, "amends": uuid7(), "retract": False,
                "at": "2025-03-04T11:00:00Z", "changes": {"body_site": "knee"}}
        sealed = env.seal("amendment", meta, {}, subject=meta["amends"], **common)
    else:
        meta = {"station_id": station_id, "first_seq": 1, "last_seq": 1, "lines": 1}
        sealed = env.seal("audit", meta, {"records": b'{"seq":1}\n'}, **common)
    path = tmp / f"{item}.sealed"
    path.write_bytes(sealed)
    return path, meta, image


def test_init_creates_keys_and_prints_pin(receiver):
    data, out = receiver
    keys = ReceiverKeys.load(data)
    assert keys.name == "practice-rx"
    assert keys.pin in out
    assert base64.b64encode(keys.practice_public_raw).decode() in out
    for name in ("practice.key", "receipt.key", "tls.key", "tls.crt"):
        assert stat.S_IMODE((data / "keys" / name).stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in out


def test_init_refuses_to_overwrite(receiver):
    data, _ = receiver
    before = (data / "keys" / "practice.key").read_bytes()
    result = cli("init", "--data-dir", data)
    assert result.returncode == 1
    assert "refusing to overwrite" in result.stderr
    assert "Traceback" not in result.stderr
    assert (data / "keys" / "practice.key").read_bytes() == before


def test_init_bad_name_is_a_clear_error(tmp_path):
    result = cli("init", "--data-dir", tmp_path / "d", "--name", "has space")
    assert result.returncode == 1 and "not allowed" in result.stderr
    assert not (tmp_path / "d" / "keys").exists()


def test_init_default_name_is_valid(tmp_path):
    result = cli("init", "--data-dir", tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert ReceiverKeys.load(tmp_path / "d").name


def test_open_writes_image_preview_and_metadata(receiver, tmp_path):
    data, _ = receiver
    path, meta, image = _sealed(data, tmp_path)
    out = tmp_path / "out"
    result = cli("open", "--data-dir", data, path, "--out", out)
    assert result.returncode == 0, result.stderr
    item = path.name.removesuffix(".sealed")
    assert (out / f"{item}.jpg").read_bytes() == image
    with Image.open(out / f"{item}.preview.jpg") as preview:
        assert preview.size == (8, 6)
    facts = json.loads((out / f"{item}.json").read_text())
    assert facts["metadata"] == meta
    assert facts["envelope"]["kind"] == "capture"
    assert facts["envelope"]["station_id"] == STATION.station_id
    assert facts["envelope"]["opened_as"] == env.key_id(ReceiverKeys.load(data).practice_public)
    assert facts["station"] == {"station_id": STATION.station_id, "name": "exam-3",
                                "signature": "verified"}
    assert f"made by station {STATION.station_id} (exam-3)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{item}.jpg", f"{item}.preview.jpg", f"{item}.json"])
    for written in out.iterdir():
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert PATIENT not in result.stdout + result.stderr


def test_open_amendment_and_audit(receiver, tmp_path):
    data, _ = receiver
    for kind, extra in (("amendment", []), ("audit", [".audit.ndjson"])):
        path, _, _ = _sealed(data, tmp_path, kind=kind)
        out = tmp_path / f"out-{kind}"
        result = cli("open", "--data-dir", data, path, "--out", out)
        assert result.returncode == 0, result.stderr
        item = path.name.removesuffix(".sealed")
        assert sorted(p.name for p in out.iterdir()) == sorted(
            [f"{item}.json"] + [f"{item}{suffix}" for suffix in extra])
        facts = json.loads((out / f"{item}.json").read_text())
        assert facts["envelope"]["kind"] == kind


def _refused(data: Path, path: Path, out: Path, reason: str, *extra: str | Path) -> None:
    result = cli("open", "--data-dir", data, path, "--out", out, *extra)
    assert result.returncode == 1, result.stdout
    assert reason in result.stderr
    assert "nothing written" in result.stderr
    assert "Traceback" not in result.stderr
    assert PATIENT not in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_open_refuses_tampered_file(receiver, tmp_path):
    data, _ = receiver
    path, _, _ = _sealed(data, tmp_path)
    damaged = bytearray(path.read_bytes())
    damaged[-100] ^= 0x04
    path.write_bytes(bytes(damaged))
    _refused(data, path, tmp_path / "out", "not signed by station")


def test_open_refuses_truncated_file(receiver, tmp_path):
    data, _ = receiver
    path, _, _ = _sealed(data, tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    _refused(data, path, tmp_path / "out", "truncated")


def test_open_refuses_wrongly_addressed_file(receiver, tmp_path):
    data, _ = receiver
    other = tmp_path / "other"
    assert cli("init", "--data-dir", other, "--name", "other").returncode == 0
    _register(other, STATION)
    path, _, _ = _sealed(other, tmp_path)
    _refused(data, path, tmp_path / "out", "not addressed to key")


def test_open_refuses_non_sealed_and_missing_files(receiver, tmp_path):
    data, _ = receiver
    junk = tmp_path / "photo.sealed"
    junk.write_bytes(_jpeg())
    _refused(data, junk, tmp_path / "out", "not a sealed file")
    _refused(data, tmp_path / "missing.sealed", tmp_path / "out", "cannot read")


def test_open_never_overwrites(receiver, tmp_path):
    data, _ = receiver
    path, _, _ = _sealed(data, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    item = path.name.removesuffix(".sealed")
    (out / f"{item}.json").write_text("keep me")
    result = cli("open", "--data-dir", data, path, "--out", out)
    assert result.returncode == 1 and "already has" in result.stderr
    assert (out / f"{item}.json").read_text() == "keep me"
    assert sorted(os.listdir(out)) == [f"{item}.json"]


def test_open_without_keys_says_how_to_fix(tmp_path):
    path = tmp_path / "x.sealed"
    path.write_bytes(b"CAPSEAL")
    result = cli("open", "--data-dir", tmp_path / "nokeys", path, "--out", tmp_path / "o")
    assert result.returncode == 1 and "capture-receiver init" in result.stderr


def _key_file(tmp: Path, station: Station) -> Path:
    path = tmp / f"{station.name}.pub"
    path.write_text(b64(station.public_raw) + "\n")
    return path


def test_open_refuses_unknown_station_and_accepts_its_key(receiver, tmp_path):
    data, _ = receiver
    visitor = new_station("elsewhere")
    path, _, image = _sealed(data, tmp_path, station=visitor)
    _refused(data, path, tmp_path / "out", "not registered here")
    result = cli("open", "--data-dir", data, path, "--out", tmp_path / "out",
                 "--station-key", _key_file(tmp_path, visitor))
    assert result.returncode == 0, result.stderr
    assert f"made by station {visitor.station_id} (not registered here)" in result.stdout
    item = path.name.removesuffix(".sealed")
    assert (tmp_path / "out" / f"{item}.jpg").read_bytes() == image
    # another station's key is refused before anything is opened
    _refused(data, path, tmp_path / "out2", "the key in", "--station-key",
             _key_file(tmp_path, STATION))
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    _refused(data, path, tmp_path / "out3", "not an Ed25519 public key", "--station-key", junk)


def test_open_refuses_revoked_station(receiver, tmp_path):
    data, _ = receiver
    revoked = new_station("gone")
    _register(data, revoked, status="revoked")
    path, _, _ = _sealed(data, tmp_path, station=revoked)
    _refused(data, path, tmp_path / "out", "is revoked here")


def test_open_refuses_a_file_forged_in_a_registered_stations_name(receiver, tmp_path,
                                                                   monkeypatch):
    """Valid key wraps to the practice, header and metadata naming the registered station,
    signed by a key that is not the station's: refused, nothing written."""
    data, _ = receiver
    forger = new_station("forger")
    monkeypatch.setattr(env, "station_of", lambda _key: STATION.station_id)
    path, _, _ = _sealed(data, tmp_path, station=forger, named=STATION.station_id)
    monkeypatch.undo()
    assert env.read_header(path).station_id == STATION.station_id
    _refused(data, path, tmp_path / "out", f"not signed by station {STATION.station_id}")
