"""cheroot's messages go through logging: a client that vanishes mid-request is a DEBUG
detail (no traceback on stderr), a server error stays an error."""

from __future__ import annotations

import logging
import socket
import ssl
import time

import pytest

from tests.sync.helpers import start_receiver
from websecurity.slow_clients import GuardedServer

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def _vanish_mid_request(port: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        tls = context.wrap_socket(raw)
        tls.sendall(b"POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        tls.shutdown(socket.SHUT_RDWR)  # gone without close_notify: EOF in the server's read
        tls.close()


def test_a_client_that_vanishes_is_a_debug_line_not_a_stderr_traceback(tmp_path, capfd,
                                                                       caplog):
    caplog.set_level(logging.DEBUG, logger="websecurity.cheroot")
    running = start_receiver(tmp_path / "recv")
    try:
        _vanish_mid_request(running.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not caplog.records:
            time.sleep(0.05)
    finally:
        running.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "EOF occurred" not in err
    records = [r for r in caplog.records if r.name == "websecurity.cheroot"]
    assert records and all(r.levelno == logging.DEBUG for r in records)


def test_cheroot_errors_keep_their_level_and_traceback(caplog):
    try:
        raise RuntimeError("a bug in a worker")
    except RuntimeError:
        GuardedServer.error_log(None, "Error in HTTPServer.serve", logging.ERROR, True)
    (record,) = [r for r in caplog.records if r.name == "websecurity.cheroot"]
    assert record.levelno == logging.ERROR and record.exc_info[0] is RuntimeError
