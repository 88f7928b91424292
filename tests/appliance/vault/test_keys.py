"""Station identity on disk (0600, stable), session keys in memory only, UUIDv7 ids."""

from __future__ import annotations

import stat
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.paths import StatePaths
from appliance.vault import VaultError, load_or_create_identity
from appliance.vault.ids import uuid7, uuid7_time_ms
from appliance.vault.keys import SessionKeys
from appliance.vault.pseudonym import Pseudonymizer
from sync.protocol import STATION_ID_RE, station_id_for


def test_identity_is_created_once_with_mode_0600(tmp_path):
    paths = StatePaths(tmp_path / "state")
    first = load_or_create_identity(paths)
    assert stat.S_IMODE(paths.identity_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.keys.stat().st_mode) == 0o700
    pem = paths.identity_key.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert isinstance(serialization.load_pem_private_key(pem, None), Ed25519PrivateKey)
    again = load_or_create_identity(paths)
    assert again.station_id == first.station_id and again.public_raw == first.public_raw
    assert paths.identity_key.read_bytes() == pem
    assert first.station_id == station_id_for(first.public_raw)
    assert STATION_ID_RE.fullmatch(first.station_id)
    assert "private_key" not in repr(first)
    assert [p.name for p in paths.keys.iterdir()] == ["identity.pem"]


def test_loose_permissions_are_tightened(tmp_path):
    paths = StatePaths(tmp_path)
    load_or_create_identity(paths)
    paths.identity_key.chmod(0o644)
    load_or_create_identity(paths)
    assert stat.S_IMODE(paths.identity_key.stat().st_mode) == 0o600


def test_damaged_identity_is_an_error_not_replaced(tmp_path):
    paths = StatePaths(tmp_path)
    paths.ensure()
    paths.identity_key.write_bytes(b"garbage")
    with pytest.raises(VaultError, match="damaged"):
        load_or_create_identity(paths)
    assert paths.identity_key.read_bytes() == b"garbage"


def test_session_keys_differ_per_start():
    a, b = SessionKeys(), SessionKeys()
    assert a.review_kid != b.review_kid
    assert a.pseudonyms.patient("H", "1") != b.pseudonyms.patient("H", "1")
    assert "review_private" not in repr(a)


def test_pseudonym_is_keyed_and_issuer_scoped():
    p = Pseudonymizer(b"k" * 32)
    assert p.patient("H", "1") == p.patient("H", "1")
    assert p.patient("H", "1") != p.patient("G", "1")
    assert p.patient("H", "1") != Pseudonymizer(b"j" * 32).patient("H", "1")
    assert p.patient(None, "1") == p.patient("", "1")
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")


def test_uuid7_is_version_7_and_strictly_increasing():
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for value in ids[:10]:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def test_uuid7_carries_its_time_and_survives_a_clock_step_back():
    later = uuid7(now_ns=2_000_000_000_000 * 1_000_000)
    assert uuid7_time_ms(later) == 2_000_000_000_000
    earlier_clock = uuid7(now_ns=1_000_000_000_000 * 1_000_000)
    assert earlier_clock > later
