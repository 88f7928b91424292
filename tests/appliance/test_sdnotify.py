import os
import socket

from appliance.sdnotify import Notifier


def test_no_socket_is_a_no_op():
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_seconds is None


def test_messages_reach_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        notifier = Notifier(environ={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000",
                                     "WATCHDOG_PID": str(os.getpid())})
        assert notifier.watchdog_seconds == 30.0
        assert notifier.ready("scanning")
        assert server.recv(100) == b"READY=1\nSTATUS=scanning"
        assert notifier.watchdog()
        assert server.recv(100) == b"WATCHDOG=1"


def test_watchdog_for_another_pid_is_ignored():
    notifier = Notifier(environ={"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_seconds is None
