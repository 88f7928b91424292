"""Real discovery and delivery between two network namespaces joined by a veth pair.

The receiver runs as ``capture-receiver serve`` in one namespace, the station logic in the
other; they share nothing but the veth link, so mDNS multicast, TLS and HTTP all cross a
real (virtual) Ethernet link. Needs root (CI runs as root); the namespaces, the link and
their addresses exist only for the test and are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from practice.keys import ReceiverKeys

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as "
                       "root); run `sudo make test` to include this test"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 (`ip`) is not installed"),
    pytest.mark.usefixtures("no_thread_leaks"),
]

RECV_ADDR, STATION_ADDR = "10.231.77.1", "10.231.77.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def namespaces():
    suffix = str(os.getpid())
    recv, station = f"cs-recv-{suffix}", f"cs-stn-{suffix}"
    veth_r, veth_s = f"csr{suffix}"[:15], f"css{suffix}"[:15]
    try:
        _ip("netns", "add", recv)
        _ip("netns", "add", station)
        _ip("link", "add", veth_r, "type", "veth", "peer", "name", veth_s)
        _ip("link", "set", veth_r, "netns", recv)
        _ip("link", "set", veth_s, "netns", station)
        for ns, dev, addr in ((recv, veth_r, RECV_ADDR), (station, veth_s, STATION_ADDR)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield recv, station
    finally:
        for ns in (recv, station):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_discovery_enrolment_and_delivery_across_namespaces(tmp_path, namespaces):
    recv_ns, station_ns = namespaces
    data_dir = tmp_path / "receiver"
    keys = ReceiverKeys.create(data_dir, "practice")
    provision = tmp_path / "provision.toml"
    subprocess.run([BIN / "capture-receiver", "token", "--data-dir", data_dir, "--name",
                    "room-ns", "--out", provision], check=True, timeout=30)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        ["ip", "netns", "exec", recv_ns, BIN / "capture-receiver", "serve", "--data-dir",
         data_dir, "--host", RECV_ADDR, "--port", "0", "--mdns-interface", RECV_ADDR],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = server.stdout.readline()
        assert f"pin {keys.pin}" in banner, server.stderr.read() if not banner else banner
        port = int(banner.split(" on ")[1].split()[0].rsplit(":", 1)[1])
        station = subprocess.run(
            ["ip", "netns", "exec", station_ns, sys.executable, "-m",
             "tests.sync.netns_station", str(provision), STATION_ADDR],
            capture_output=True, text=True, timeout=90, env=env, cwd=REPO)
        assert station.returncode == 0, station.stderr
        result = json.loads(station.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert result["addresses"] == [[RECV_ADDR, port]]
    assert result["status"] == "approved"
    assert (result["outcome"], result["state"]) == ("delivered", "delivered")
    assert result["events"] == []
    filed = sorted(p for p in (data_dir / "inbox").rglob("*.jpg") if ".thumb." not in p.name)
    assert [p.name.split("_", 1)[1] for p in filed] == [f"{result['capture_id']}.jpg"]
    assert server.returncode == 0  # SIGTERM is a clean stop
