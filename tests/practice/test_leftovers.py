"""Temp files a killed practice server left are removed when it starts again; a running
writer's are not, and nothing half-written is ever indexed or shown."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from practice.keys import ReceiverKeys
from practice.leftovers import remove_leftover_temps, writer_alive
from practice.patientfile import PatientIndex
from practice.patientfile.rebuild import rebuild
from sync.durable import is_temp_name, temp_path_for
from tests.sync.helpers import unique_name
from websecurity.certificates import VALIDITY, self_signed_certificate

BIN = Path(sys.executable).parent


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def temp_of(path: Path, pid: int) -> Path:
    """The name a durable write of ``path`` by process ``pid`` uses (as a SIGKILL leaves it)."""
    made = temp_path_for(path)
    parts = made.name.split(".")
    parts[-3] = str(pid)
    return made.with_name(".".join(parts))


def leave_temps(data_dir: Path, pid: int) -> tuple[Path, list[Path]]:
    """A filed photo, and the temps a write killed mid-way leaves around it."""
    folder = data_dir / "inbox" / "GSRN-8018" / "000123456"
    folder.mkdir(parents=True)
    photo = folder / "2025-03-04_0190a1b2-0000-7000-8000-000000000001.jpg"
    photo.write_bytes(b"\xff\xd8 a whole photo")
    temps = [temp_of(photo.with_name("2025-03-04_0190a1b2-0000-7000-8000-000000000002.jpg"),
                     pid),
             temp_of(photo.with_suffix(".json"), pid),
             temp_of(folder / "consent.json", pid),
             temp_of(data_dir / "inbox" / "index.json", pid)]
    for temp in temps:
        assert is_temp_name(temp.name)
        temp.write_bytes(b"\xff\xd8 truncated plaint")
    return photo, temps


def test_a_dead_writers_temps_go_a_live_writers_stay(tmp_path):
    photo, temps = leave_temps(tmp_path, dead_pid())
    live = temp_of(photo.with_name("live.jpg"), os.getpid())
    live.write_bytes(b"being written right now")
    not_temp = photo.with_name(".hidden-but-not-ours")
    not_temp.write_bytes(b"x")
    assert remove_leftover_temps(tmp_path) == len(temps)
    assert not any(t.exists() for t in temps)
    assert photo.exists() and live.exists() and not_temp.exists()
    assert remove_leftover_temps(tmp_path) == 0


@pytest.mark.parametrize(("name", "alive"), [(".a.jpg.1.ab.tmp", True),  # init never dies
                                             (".a.jpg.x.ab.tmp", False), (".a.tmp", False)])
def test_writer_alive_reads_the_pid_from_the_name(name, alive):
    assert writer_alive(name) is alive


def test_the_index_never_takes_a_temp_file(tmp_path):
    photo, _ = leave_temps(tmp_path, dead_pid())
    sidecar_temp = temp_of(photo.with_suffix(".json"), os.getpid())
    sidecar_temp.write_text('{"patient_id": "000123456"}')
    index = PatientIndex(tmp_path)
    try:
        assert rebuild(index) == 0  # the photo has no sidecar; the temp is no sidecar
    finally:
        index.close()


def _lines_until_ui(proc) -> tuple[int, int]:
    banner = proc.stdout.readline()
    ui = proc.stdout.readline()
    if not banner or not ui:
        proc.kill()
        pytest.fail(proc.stderr.read())
    port = int(banner.split(" on ")[1].split()[0].rsplit(":", 1)[1])
    ui_port = int(ui.split("https://127.0.0.1:")[1].split("/")[0])
    return port, ui_port


def _server_header(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /v1/nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        head = tls.recv(4096).split(b"\r\n\r\n")[0].decode()
    return next(line.split(": ", 1)[1] for line in head.split("\r\n")
                if line.lower().startswith("server:"))


def test_serve_cleans_up_renews_the_certificate_and_says_only_https(tmp_path):
    """Start ``capture-receiver serve`` on a data dir as a SIGKILL and time left it: temps in
    the patient folder, a certificate about to expire. It starts clean, on the same key."""
    data_dir = tmp_path / "recv"
    keys = ReceiverKeys.create(data_dir, unique_name())
    tls_key = serialization.load_pem_private_key(keys.tls_key_path.read_bytes(), None)
    old = self_signed_certificate(tls_key, common_name=keys.name,  # type: ignore[arg-type]
                                  dns_names=[keys.name, "localhost"],
                                  now=dt.datetime.now(dt.UTC) - VALIDITY + dt.timedelta(days=5))
    keys.tls_cert_path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    photo, temps = leave_temps(data_dir, dead_pid())
    live = temp_of(photo.with_name("live.jpg"), os.getpid())
    live.write_bytes(b"another process is writing this")
    proc = subprocess.Popen(
        [BIN / "capture-receiver", "serve", "--data-dir", data_dir, "--host", "127.0.0.1",
         "--port", "0", "--ui-port", "0", "--no-mdns"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port, ui_port = _lines_until_ui(proc)
        assert not any(t.exists() for t in temps)
        assert photo.exists() and live.exists()
        renewed = ReceiverKeys.load(data_dir)
        assert renewed.pin == keys.pin  # the key stations pin is kept
        assert renewed.tls_certificate.serial_number != old.serial_number
        assert renewed.tls_certificate.not_valid_after_utc > old.not_valid_after_utc
        assert _server_header(port) == "https" and _server_header(ui_port) == "https"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
