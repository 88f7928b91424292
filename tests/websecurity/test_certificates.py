"""The self-signed certificate any of our web UIs serves: what it names, how it is stored."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from websecurity.certificates import (
    VALIDITY,
    ensure_certificate,
    load_certificate,
    reissued_certificate,
    renewal_due,
    self_signed_certificate,
)


def test_a_server_certificate_for_the_names_given_and_loopback():
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = self_signed_certificate(key, common_name="practice-" + "x" * 80,
                                   dns_names=["practice", "practice", "localhost", ""],
                                   organization="clinic", now=now)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["practice", "localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert len(common_name) == 64 and common_name.startswith("practice-")
    assert not cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert cert.issuer == cert.subject
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=825)


def test_written_durably_with_a_private_key_and_reloaded(tmp_path):
    cert_path, key_path = tmp_path / "ui.crt", tmp_path / "ui.key"
    assert load_certificate(cert_path, key_path) is None
    made = ensure_certificate(cert_path, key_path, common_name="practice",
                              dns_names=["practice"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ui.crt", "ui.key"]  # no temp left
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert load_certificate(cert_path, key_path) == made
    assert ensure_certificate(cert_path, key_path, common_name="other",
                              dns_names=["other"]).fingerprint == made.fingerprint


def _spki(cert_path) -> bytes:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def test_renewed_near_expiry_with_the_same_key(tmp_path):
    cert_path, key_path = tmp_path / "ui.crt", tmp_path / "ui.key"
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    first = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"], now=start)
    key_bytes, spki = key_path.read_bytes(), _spki(cert_path)
    # 31 days left: kept
    kept = start + VALIDITY - dt.timedelta(days=31)
    assert ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"],
                              now=kept).fingerprint == first.fingerprint
    # 29 days left: a new certificate, the same key (stations pin the key)
    later = start + VALIDITY - dt.timedelta(days=29)
    renewed = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"],
                                 now=later)
    assert renewed.fingerprint != first.fingerprint
    assert renewed.spki_sha256_b64 == first.spki_sha256_b64
    assert key_path.read_bytes() == key_bytes and _spki(cert_path) == spki
    assert renewed.not_after == later - dt.timedelta(minutes=5) + VALIDITY


def test_a_ten_year_certificate_of_an_older_release_is_renewed_with_its_key(tmp_path):
    cert_path, key_path = tmp_path / "ui.crt", tmp_path / "ui.key"
    ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"])
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    old = self_signed_certificate(key, common_name="p", dns_names=["p"],
                                  validity=dt.timedelta(days=3650))
    cert_path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    assert renewal_due(old) and load_certificate(cert_path, key_path) is None
    renewed = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"])
    assert renewed.not_after - dt.datetime.now(dt.UTC) < VALIDITY
    assert _spki(cert_path) == old.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_damaged_certificate_is_remade_for_the_key_a_damaged_key_is_replaced(tmp_path):
    cert_path, key_path = tmp_path / "ui.crt", tmp_path / "ui.key"
    first = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"])
    cert_path.write_text("garbage")
    again = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"])
    assert again.spki_sha256_b64 == first.spki_sha256_b64
    key_path.write_text("garbage")
    fresh = ensure_certificate(cert_path, key_path, common_name="p", dns_names=["p"])
    assert fresh.spki_sha256_b64 != first.spki_sha256_b64
    assert load_certificate(cert_path, key_path) == fresh


def test_reissue_keeps_subject_and_names():
    key = ec.generate_private_key(ec.SECP256R1())
    old = self_signed_certificate(key, common_name="practice", dns_names=["practice", "x"],
                                  organization="clinic")
    new = reissued_certificate(old, key)
    san = x509.SubjectAlternativeName
    assert new.subject == old.subject and new.serial_number != old.serial_number
    assert new.extensions.get_extension_for_class(san).value == \
        old.extensions.get_extension_for_class(san).value
