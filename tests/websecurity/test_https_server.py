"""The HTTPS server both programs run: TLS 1.2 and 1.3, started once, stopped without threads."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from websecurity.certificates import ensure_certificate
from websecurity.https_server import HttpsServer

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def server(tmp_path):
    tls = ensure_certificate(tmp_path / "c.pem", tmp_path / "k.pem", common_name="t",
                             dns_names=["localhost"])
    return HttpsServer(_ok, host="127.0.0.1", port=0, cert_path=tls.cert_path,
                       key_path=tls.key_path, threads=1, timeout=5)


def _handshake(port: int, version: ssl.TLSVersion) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return tls.recv(4096).decode()


def test_serves_tls_1_2_and_1_3(server):
    with server:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            assert _handshake(server.port, version).startswith("HTTP/1.1 200")


def test_serve_forever_returns_when_told_and_a_server_starts_once(server):
    stop = threading.Event()
    runner = threading.Thread(target=server.serve_forever, args=(stop,))
    runner.start()
    try:
        while server.port == 0:
            stop.wait(0.01)
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        assert _handshake(server.port, ssl.TLSVersion.TLSv1_2).startswith("HTTP/1.1 200")
    finally:
        stop.set()
        runner.join(timeout=15)
    assert not runner.is_alive()


def _tls12_with(port: int, ciphers: str) -> str:
    """The suite the server chose when offered only ``ciphers`` over TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        return tls.cipher()[0]


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                   "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls_1_2_offers_the_aead_suites(server, suite):
    with server:
        assert _tls12_with(server.port, suite) == suite


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                                   "ECDHE-ECDSA-AES128-SHA256", "AES128-GCM-SHA256",
                                   "AES256-SHA"])
def test_tls_1_2_refuses_cbc_and_static_rsa_suites(server, suite):
    with server, pytest.raises(ssl.SSLError):
        _tls12_with(server.port, suite + ":@SECLEVEL=0")


def test_openssl_s_client_cannot_negotiate_a_cbc_suite(server):
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary")
    with server:
        def s_client(cipher: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [openssl, "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_2",
                 "-cipher", cipher], input=b"", capture_output=True, timeout=20)
        refused = s_client("ECDHE-ECDSA-AES256-SHA384")  # CBC with HMAC-SHA384
        assert refused.returncode != 0, refused.stdout
        assert b"handshake failure" in refused.stderr
        accepted = s_client("ECDHE-ECDSA-AES256-GCM-SHA384")
        assert accepted.returncode == 0
        assert b"Cipher is ECDHE-ECDSA-AES256-GCM-SHA384" in accepted.stdout


def test_the_server_header_is_generic(server):
    with server:
        answer = _handshake(server.port, ssl.TLSVersion.TLSv1_3)
    headers = dict(line.split(": ", 1) for line in answer.split("\r\n\r\n")[0].split("\r\n")[1:])
    assert headers["Server"] == "https"
