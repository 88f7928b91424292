"""Idle and slow clients cannot stall the HTTPS server (cheroot issue #748 and slowloris)."""

from __future__ import annotations

import socket
import time

import pytest

from websecurity.certificates import ensure_certificate
from websecurity.https_server import HttpsServer

from .slowloris import client_context, host, idle_and_slow, tcp, timed_get

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        reply = str(len(body)).encode()
    else:
        reply = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(reply)))])
    return [reply]


@pytest.fixture
def tls(tmp_path):
    return ensure_certificate(tmp_path / "c.pem", tmp_path / "k.pem", common_name="t",
                              dns_names=["localhost"])


def _server(tls, **options) -> HttpsServer:
    # threads=8 and timeout=30: what the station UI and the practice server pass.
    options = {"threads": 8, "timeout": 30.0, **options}
    return HttpsServer(_app, host="127.0.0.1", port=0, cert_path=tls.cert_path,
                       key_path=tls.key_path, **options)


def test_50_idle_and_10_slow_uploads_leave_a_normal_request_under_a_second(tls):
    with _server(tls) as server, idle_and_slow(server.port, idle=50, slow=10):
        elapsed, status = timed_get(server.port)
    assert status == "HTTP/1.1 200 OK"
    assert elapsed < 1.0


def test_a_stalled_handshake_is_dropped_at_the_header_deadline(tls):
    with _server(tls, header_timeout=1.0) as server, tcp(server.port, host(0)) as raw:
        raw.sendall(b"\x16\x03\x01\x00\xc8")  # the first bytes of a ClientHello, then silence
        started = time.monotonic()
        assert raw.recv(100) == b""  # closed by the server, without a TLS answer
        assert time.monotonic() - started < 3.0


def test_a_dribbled_body_is_cut_off_at_its_deadline_though_never_idle(tls):
    with _server(tls, body_timeout=1.0, min_body_rate=1e9) as server, \
            tcp(server.port, host(0)) as raw, \
            client_context().wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
        started = time.monotonic()
        with pytest.raises(OSError):  # reset, or closed under our feet
            for _ in range(40):  # a byte every 0.1 s: never silent for the 30 s timeout
                s.sendall(b"x")
                time.sleep(0.1)
            pytest.fail("the server kept reading a body dribbled for 4 s")
        assert time.monotonic() - started < 3.0


def test_a_body_at_a_decent_rate_is_read_whole(tls):
    with _server(tls, body_timeout=1.0, min_body_rate=1e6) as server, \
            tcp(server.port, "127.0.0.1") as raw, \
            client_context().wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  b"Content-Length: 2000000\r\n\r\n" + b"x" * 2_000_000)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
        assert reply.decode().endswith("\r\n\r\n2000000")


def test_one_address_holds_at_most_max_per_address_connections(tls):
    with _server(tls, max_per_address=4) as server:
        held = [tcp(server.port, host(0)) for _ in range(4)]
        try:
            time.sleep(0.2)
            with tcp(server.port, host(0)) as refused:
                refused.settimeout(2)
                assert refused.recv(10) == b""  # closed at once
            # another address, and the legitimate client, are not affected
            assert timed_get(server.port, source=host(1))[1] == "HTTP/1.1 200 OK"
            assert timed_get(server.port)[1] == "HTTP/1.1 200 OK"
        finally:
            for s in held:
                s.close()
        time.sleep(0.2)  # the closed ones give their places back
        assert timed_get(server.port, source=host(0))[1] == "HTTP/1.1 200 OK"


def test_plain_http_on_the_tls_port_is_dropped_without_harm(tls):
    with _server(tls) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try:
                answer = raw.recv(100)
            except ConnectionError:
                answer = b""
            assert not answer.startswith(b"HTTP/1.1 200")
        assert timed_get(server.port)[1] == "HTTP/1.1 200 OK"


def test_the_practice_receiver_answers_under_a_second_beside_50_idle_and_10_slow(tmp_path):
    from tests.sync.helpers import start_receiver

    receiver = start_receiver(tmp_path / "practice")
    try:
        with idle_and_slow(receiver.port, idle=50, slow=10):
            elapsed, status = timed_get(receiver.port, "/v1/station")
    finally:
        receiver.stop()
    assert status.startswith("HTTP/1.1 4")  # answered (no station credentials given)
    assert elapsed < 1.0


def test_the_station_ui_server_answers_under_a_second_beside_50_idle_and_10_slow(tls):
    from types import SimpleNamespace

    from flask import Flask

    from appliance.web.server import web_server

    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: "ok")
    cfg = SimpleNamespace(web=SimpleNamespace(listen="127.0.0.1", port=0),
                          station=SimpleNamespace(name="exam-1"))
    with web_server(app, cfg, paths=None, tls=tls) as station:  # its own threads and timeout
        port = station.server.port
        with idle_and_slow(port, idle=50, slow=10):
            elapsed, status = timed_get(port)
    assert status == "HTTP/1.1 200 OK"
    assert elapsed < 1.0
