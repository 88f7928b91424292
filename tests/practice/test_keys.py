"""Receiver key set: created once, owner-only, loadable, pinned by SPKI, never overwritten."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from practice.keys import (
    KEY_FILES,
    ReceiverKeys,
    ReceiverKeysError,
    spki_pin,
)
from websecurity.certificates import VALIDITY, self_signed_certificate


def test_create_writes_owner_only_files_and_loads_back(tmp_path):
    keys = ReceiverKeys.create(tmp_path / "data", "practice-1")
    keys_dir = tmp_path / "data" / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for name in KEY_FILES:
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600, name
    assert not [p for p in (tmp_path / "data").iterdir() if p.name != "keys"]

    loaded = ReceiverKeys.load(tmp_path / "data")
    assert loaded.name == "practice-1"
    assert loaded.practice_public_raw == keys.practice_public_raw
    assert len(loaded.practice_public_raw) == 32
    assert loaded.receipt_public_raw == keys.receipt_public_raw
    assert len(loaded.receipt_public_raw) == 32
    assert loaded.pin == keys.pin
    assert isinstance(loaded.practice_private, x25519.X25519PrivateKey)
    assert isinstance(loaded.receipt_private, ed25519.Ed25519PrivateKey)
    assert loaded.tls_cert_path == keys_dir / "tls.crt"
    assert loaded.tls_key_path == keys_dir / "tls.key"
    assert "PRIVATE" not in repr(loaded) and "practice_private" not in repr(loaded)


def test_key_files_are_pkcs8_pem_of_the_right_kinds(tmp_path):
    ReceiverKeys.create(tmp_path, "rx")
    keys_dir = tmp_path / "keys"
    for name, kind in (("practice.key", x25519.X25519PrivateKey),
                       ("receipt.key", ed25519.Ed25519PrivateKey),
                       ("tls.key", ec.EllipticCurvePrivateKey)):
        pem = (keys_dir / name).read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----"), name
        assert isinstance(serialization.load_pem_private_key(pem, None), kind)
    tls_key = serialization.load_pem_private_key((keys_dir / "tls.key").read_bytes(), None)
    assert isinstance(tls_key.curve, ec.SECP256R1)


def test_certificate_san_and_pin(tmp_path):
    keys = ReceiverKeys.create(tmp_path, "frontdesk")
    cert = x509.load_pem_x509_certificate(keys.tls_cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"frontdesk", "localhost"} <= set(san.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = hashlib.sha256(spki).hexdigest()
    assert keys.pin == expected
    assert spki_pin(cert) == expected
    assert spki_pin(cert.public_key()) == expected
    assert keys.pin == keys.pin.lower() and len(keys.pin) == 64
    # The pair is usable by the standard library's TLS server context.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(keys.tls_cert_path, keys.tls_key_path)


def test_spki_pin_rejects_other_objects():
    with pytest.raises(TypeError):
        spki_pin(b"not a key")


def test_two_receivers_get_different_keys(tmp_path):
    a = ReceiverKeys.create(tmp_path / "a", "a")
    b = ReceiverKeys.create(tmp_path / "b", "b")
    assert a.practice_public_raw != b.practice_public_raw
    assert a.receipt_public_raw != b.receipt_public_raw
    assert a.pin != b.pin


def test_create_refuses_to_overwrite(tmp_path):
    first = ReceiverKeys.create(tmp_path, "rx")
    before = {n: (tmp_path / "keys" / n).read_bytes() for n in KEY_FILES}
    with pytest.raises(ReceiverKeysError, match="refusing to overwrite"):
        ReceiverKeys.create(tmp_path, "rx")
    after = {n: (tmp_path / "keys" / n).read_bytes() for n in KEY_FILES}
    assert before == after
    assert ReceiverKeys.load(tmp_path).pin == first.pin


def test_create_refuses_when_any_single_key_file_exists(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "receipt.key").write_bytes(b"old")
    with pytest.raises(ReceiverKeysError, match=r"receipt\.key"):
        ReceiverKeys.create(tmp_path, "rx")
    assert (tmp_path / "keys" / "receipt.key").read_bytes() == b"old"
    assert not (tmp_path / "keys" / "practice.key").exists()


def test_create_into_existing_empty_keys_dir(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o755)
    keys = ReceiverKeys.create(tmp_path, "rx")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert ReceiverKeys.load(tmp_path).pin == keys.pin
    assert [p.name for p in tmp_path.iterdir()] == ["keys"]


@pytest.mark.parametrize("name", ["", "-bad", "has space", "x" * 64, "dot.ted", "ünï"])
def test_create_rejects_bad_names(tmp_path, name):
    with pytest.raises(ReceiverKeysError, match="not allowed"):
        ReceiverKeys.create(tmp_path, name)
    assert not (tmp_path / "keys").exists()


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ReceiverKeysError, match="capture-receiver init"):
        ReceiverKeys.load(tmp_path)
    ReceiverKeys.create(tmp_path, "rx")
    (tmp_path / "keys" / "tls.crt").unlink()
    with pytest.raises(ReceiverKeysError, match=r"incomplete: missing tls\.crt"):
        ReceiverKeys.load(tmp_path)


def test_load_refuses_readable_private_key(tmp_path):
    ReceiverKeys.create(tmp_path, "rx")
    (tmp_path / "keys" / "practice.key").chmod(0o644)
    with pytest.raises(ReceiverKeysError, match="chmod 600"):
        ReceiverKeys.load(tmp_path)


def test_load_refuses_swapped_or_damaged_files(tmp_path):
    ReceiverKeys.create(tmp_path / "one", "one")
    ReceiverKeys.create(tmp_path / "two", "two")
    one, two = tmp_path / "one" / "keys", tmp_path / "two" / "keys"
    (one / "tls.crt").write_bytes((two / "tls.crt").read_bytes())
    with pytest.raises(ReceiverKeysError, match="does not match"):
        ReceiverKeys.load(tmp_path / "one")
    (two / "practice.key").write_bytes((two / "receipt.key").read_bytes())
    with pytest.raises(ReceiverKeysError, match="wrong kind of key"):
        ReceiverKeys.load(tmp_path / "two")
    (two / "practice.key").write_bytes(b"garbage")
    with pytest.raises(ReceiverKeysError, match="not an unencrypted PKCS8"):
        ReceiverKeys.load(tmp_path / "two")


def test_serve_renews_an_old_certificate_and_keeps_the_pinned_key(tmp_path):
    """``renewed()`` (what ``serve`` calls at start-up) re-issues a certificate close to
    expiry, or made for ten years by an older release; the key and so the pin stay."""
    keys = ReceiverKeys.create(tmp_path, "practice")
    assert keys.renewed() is keys  # fresh: nothing to do
    lifetime = keys.tls_certificate.not_valid_after_utc - keys.tls_certificate.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=825)
    tls_key = serialization.load_pem_private_key(keys.tls_key_path.read_bytes(), None)
    assert isinstance(tls_key, ec.EllipticCurvePrivateKey)
    key_bytes = keys.tls_key_path.read_bytes()
    for old in (self_signed_certificate(tls_key, common_name="practice",
                                        dns_names=["practice", "localhost"],
                                        now=dt.datetime.now(dt.UTC) - VALIDITY
                                        + dt.timedelta(days=20)),
                self_signed_certificate(tls_key, common_name="practice",
                                        dns_names=["practice", "localhost"],
                                        validity=dt.timedelta(days=3650))):
        keys.tls_cert_path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
        stale = ReceiverKeys.load(tmp_path)
        renewed = stale.renewed()
        assert renewed.tls_certificate.serial_number != old.serial_number
        assert renewed.pin == keys.pin and renewed.name == "practice"
        assert renewed.tls_certificate.not_valid_after_utc - dt.datetime.now(dt.UTC) > \
            VALIDITY - dt.timedelta(days=1)
        assert keys.tls_key_path.read_bytes() == key_bytes
        assert ReceiverKeys.load(tmp_path).tls_certificate == renewed.tls_certificate
        assert renewed.renewed() is renewed
