"""One form for every SHA-256 fingerprint and pin, whoever shows it; typed forms accepted."""

from __future__ import annotations

import hashlib
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from practice.cli import main as receiver_main
from practice.keys import ReceiverKeys
from sync.fingerprints import parse_fingerprint, sha256_fingerprint
from sync.pinning import pin_of_certificate
from tests.sync.helpers import unique_name
from websecurity.certificates import ensure_certificate

HEX64 = re.compile(r"[0-9a-f]{64}")
DIGEST = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize("typed", [
    DIGEST, DIGEST.upper(), f"  {DIGEST}\n",
    ":".join(DIGEST[i:i + 2] for i in range(0, 64, 2)).upper(),
    " ".join(DIGEST[i:i + 2] for i in range(0, 64, 2)),
])
def test_typed_forms_in_circulation_are_accepted(typed):
    assert parse_fingerprint(typed) == DIGEST


@pytest.mark.parametrize("typed", ["", DIGEST[:-1], DIGEST + "0", "zz" * 32,
                                   "LWKzi1f1ZUBH8RU5gPc2TYPj7AFw9Jqe1DdTbvbWFZM="])
def test_anything_else_is_refused(typed):
    with pytest.raises(ValueError, match="64 hex digits"):
        parse_fingerprint(typed)


def test_pins_and_certificate_fingerprints_share_the_form(tmp_path, capsys):
    data_dir = tmp_path / "recv"
    assert receiver_main(["init", "--data-dir", str(data_dir), "--name", unique_name()]) == 0
    printed = capsys.readouterr().out
    keys = ReceiverKeys.load(data_dir)
    assert HEX64.fullmatch(keys.pin) and f"TLS pin (SPKI):     {keys.pin}" in printed
    der = keys.tls_certificate.public_bytes(serialization.Encoding.DER)
    assert pin_of_certificate(der) == keys.pin

    made = ensure_certificate(tmp_path / "web.crt", tmp_path / "web.key", common_name="s",
                              dns_names=["s"])
    cert = x509.load_pem_x509_certificate((tmp_path / "web.crt").read_bytes())
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    assert made.fingerprint == sha256_fingerprint(cert_der)
    assert made.spki_sha256 == pin_of_certificate(cert_der)
    assert HEX64.fullmatch(made.fingerprint) and HEX64.fullmatch(made.spki_sha256)
