"""The reusable HTTPS server and the pinned client, on their own."""

from __future__ import annotations

import socket

import pytest

from practice.keys import ReceiverKeys
from sync.pinning import PinMismatch, PinnedHTTPSConnection
from websecurity.https_server import HttpsServer

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _hello(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body) + 6))])
    return [b"hello " + body]


@pytest.fixture
def keys(tmp_path):
    return ReceiverKeys.create(tmp_path / "k", "practice")


def test_server_reports_its_port_serves_tls_and_stops_cleanly(keys):
    with HttpsServer(_hello, host="127.0.0.1", port=0, cert_path=keys.tls_cert_path,
                     key_path=keys.tls_key_path, threads=2) as server:
        assert server.port > 0
        conn = PinnedHTTPSConnection("127.0.0.1", server.port, keys.pin, timeout=5)
        conn.request("POST", "/", body=b"world")
        assert conn.getresponse().read() == b"hello world"
        assert conn.peer_pin == keys.pin  # the client's pin is the receiver's spki_pin
        conn.close()
        port = server.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_port_in_use_is_an_error(keys):
    with HttpsServer(_hello, host="127.0.0.1", port=0, cert_path=keys.tls_cert_path,
                     key_path=keys.tls_key_path, threads=1) as first:
        second = HttpsServer(_hello, host="127.0.0.1", port=first.port,
                             cert_path=keys.tls_cert_path, key_path=keys.tls_key_path)
        with pytest.raises(OSError):
            second.start()


def test_wrong_pin_raises_before_any_request(keys, tmp_path):
    seen = []

    def app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return _hello(environ, start_response)

    with HttpsServer(app, host="127.0.0.1", port=0, cert_path=keys.tls_cert_path,
                     key_path=keys.tls_key_path, threads=1) as server:
        conn = PinnedHTTPSConnection("127.0.0.1", server.port, "0" * 64, timeout=5)
        with pytest.raises(PinMismatch) as info:
            conn.request("POST", "/secret", body=b"capture bytes")
        assert info.value.seen == keys.pin
        conn.close()
    assert seen == []
