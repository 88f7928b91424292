"""The per-station certificate: made once, stable, replaced when unusable, and the one a
browser actually sees (checked over a real TLS connection on loopback)."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
import stat

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appliance.config import Config, defaults
from appliance.doctor import check_web_tls
from appliance.paths import StatePaths
from appliance.web.server import web_server
from appliance.web.tls import ensure_web_tls, read_web_tls
from websecurity.certificates import format_fingerprint


def test_generated_once_then_stable(tmp_path):
    paths = StatePaths(tmp_path / "state")
    first = ensure_web_tls(paths, station_name="room 3", hostname="station-3")
    second = ensure_web_tls(paths, station_name="room 3", hostname="station-3")
    assert first.fingerprint == second.fingerprint
    assert stat.S_IMODE(first.key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(first.cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"station-3", "station-3.local", "localhost"} <= set(
        names.get_values_for_type(x509.DNSName))
    cert_path, key_path, fingerprint = first  # unpacks as the three the runtime needs
    assert (cert_path, key_path) == (first.cert_path, first.key_path)
    assert fingerprint == format_fingerprint(cert.public_bytes(serialization.Encoding.DER))
    assert len(fingerprint) == 95 and fingerprint.count(":") == 31


def test_replaced_when_damaged_mismatched_or_expiring(tmp_path):
    paths = StatePaths(tmp_path / "state")
    original = ensure_web_tls(paths, hostname="s")
    original.cert_path.write_text("not a certificate")
    assert read_web_tls(paths) is None
    repaired = ensure_web_tls(paths, hostname="s")
    assert repaired.fingerprint != original.fingerprint
    # a key that does not match the certificate
    other = StatePaths(tmp_path / "other")
    ensure_web_tls(other, hostname="s")
    repaired.key_path.write_bytes((other.tls / "web-key.pem").read_bytes())
    third = ensure_web_tls(paths, hostname="s")
    assert third.fingerprint != repaired.fingerprint
    # nearly expired: renewed 30 days early, with the same key
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=825 - 10)
    renewed = ensure_web_tls(paths, hostname="s", now=later)
    assert renewed.fingerprint != third.fingerprint
    assert renewed.spki_sha256_b64 == third.spki_sha256_b64


def test_the_served_certificate_is_the_one_fingerprinted(tmp_path):
    values = defaults()
    values["station"]["state_dir"] = str(tmp_path / "state")
    cfg = Config(values, "test")
    paths = StatePaths(cfg.state_dir)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with web_server(app, cfg, paths, host="127.0.0.1", port=0) as server:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            head = tls.recv(4096).split(b"\r\n\r\n")[0].decode()
        # a generic Server header: neither the product nor the station's name before login
        assert "\r\nServer: https\r\n" in head + "\r\n"
        assert cfg.station.name not in head and "capture" not in head.lower()
        assert format_fingerprint(der) == server.tls.fingerprint
        assert hashlib.sha256(der).hexdigest().upper() == server.tls.fingerprint.replace(":", "")
        assert server.url().startswith("https://127.0.0.1:")


def test_doctor_reports_the_fingerprint(tmp_path):
    values = defaults()
    values["station"]["state_dir"] = str(tmp_path / "state")
    cfg = Config(values, "test")
    before = check_web_tls(cfg)
    assert before.status == "warn" and "next start" in before.detail
    tls = ensure_web_tls(StatePaths(cfg.state_dir))
    after = check_web_tls(cfg)
    assert after.status == "ok" and tls.fingerprint in after.detail
