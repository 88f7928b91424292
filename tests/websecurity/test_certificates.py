"""The self-signed certificate any of our web UIs serves: what it names, how it is stored."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from websecurity.certificates import (
    ensure_certificate,
    load_certificate,
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
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > dt.timedelta(days=3649)


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
