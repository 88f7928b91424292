"""`capture-station run` as systemd runs it: READY=1 and WATCHDOG=1 on $NOTIFY_SOCKET, and a
clean exit on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time


def test_run_notifies_systemd_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nstate_dir = "{tmp_path / "state"}"\n[camera]\nbackend = "fake"\n'
        'still_width = 640\nstill_height = 480\n[gpio]\npin_factory = "mock"\n'
        '[vault]\nreserve_mb = 16\n[web]\nenabled = false\n')
    notify = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(notify)
        sock.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": notify, "WATCHDOG_USEC": "1000000"}
        env.pop("WATCHDOG_PID", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "run", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            messages = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "WATCHDOG=1" not in messages:
                messages.append(sock.recv(200).decode().split("\n")[0])
            assert messages[0] == "READY=1"
            assert "WATCHDOG=1" in messages
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert "NOT ENROLLED" in err  # the station says why captures will be refused
    assert (tmp_path / "state" / "station.db").exists()


def test_run_with_bad_config_exits_2(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text('[camera]\nbackend = "webcam"\n')
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "[camera] backend" in result.stderr
