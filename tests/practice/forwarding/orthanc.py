"""A real Orthanc (Debian's, with the DICOMweb and PostgreSQL plugins) in a namespace of its
own that has only ``lo``: Orthanc 1.10 cannot bind to loopback alone, so the namespace is what
keeps it off every real network. Also a private PostgreSQL cluster for the shared index.

Everything here is started by the test, bounded in time, and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLUGINS = Path("/usr/share/orthanc/plugins")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/nonexistent"))

needs_orthanc = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as "
                       "root); run `sudo make test` to include the Orthanc tests"),
    pytest.mark.skipif(shutil.which("Orthanc") is None or shutil.which("ip") is None
                       or not (PLUGINS / "libOrthancDicomWeb.so").exists(),
                       reason="Orthanc with its DICOMweb plugin (Debian orthanc, "
                       "orthanc-dicomweb) or iproute2 is not installed; `make test` installs "
                       "them"),
]
needs_postgres = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or not (PLUGINS / "libOrthancPostgreSQLIndex.so").exists(),
    reason="PostgreSQL or orthanc-postgresql is not installed; `make test` installs them")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


class Namespace:
    """A network namespace with only ``lo`` up."""

    def __init__(self, name: str) -> None:
        self.name = name
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")

    def run(self, *argv: object, timeout: float = 60, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *map(str, argv)],
                              capture_output=True, timeout=timeout, check=check,
                              env=env or make_env())

    def popen(self, *argv: object, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *map(str, argv)], **kwargs)

    def get(self, url: str, accept: str | None = None) -> tuple[int, bytes]:
        args = [sys.executable, "-m", "tests.practice.forwarding.netns_http", "get", url]
        done = self.run(*args, *([accept] if accept else []))
        return int(done.stderr.decode().strip().splitlines()[-1]), done.stdout

    def get_json(self, url: str):
        status, body = self.get(url, "application/dicom+json")
        assert status in (200, 204), (status, body[:200])
        return json.loads(body) if body.strip() else []

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)


def make_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Orthanc:
    """One Orthanc server in ``ns`` on ``port``; ``start``/``stop`` keep its data."""

    def __init__(self, ns: Namespace, work: Path, port: int, *, name: str = "pacs",
                 postgres: dict | None = None) -> None:
        self.ns, self.port = ns, port
        self.url = f"http://127.0.0.1:{port}/dicom-web"
        work.mkdir(parents=True, exist_ok=True)
        plugins = [str(PLUGINS / "libOrthancDicomWeb.so")]
        config = {
            "Name": name, "HttpPort": port, "DicomPort": port + 1,
            "StorageDirectory": str(work / "storage"), "IndexDirectory": str(work / "index"),
            "RemoteAccessAllowed": True, "AuthenticationEnabled": False,
            "HttpTimeout": 30, "StorageCompression": False, "ConcurrentJobs": 1,
            "Plugins": plugins, "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        if postgres is not None:
            plugins.append(str(PLUGINS / "libOrthancPostgreSQLIndex.so"))
            config["PostgreSQL"] = {"EnableIndex": True, "EnableStorage": False,
                                    "Lock": False, **postgres}
        self.config_path = work / "orthanc.json"
        self.config_path.write_text(json.dumps(config))
        self.log = work / "orthanc.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = self.ns.popen("Orthanc", self.config_path, stdout=log, stderr=log)
        waited = self.ns.run(sys.executable, "-m", "tests.practice.forwarding.netns_http",
                             "wait", f"{self.url}/studies", "40", check=False, timeout=60)
        if waited.returncode != 0:
            self.stop()
            raise RuntimeError("Orthanc did not start:\n" + self.log.read_text()[-2000:])

    def stop(self) -> None:
        stop(self.proc)
        self.proc = None


class Postgres:
    """A private PostgreSQL cluster on a unix socket in ``work`` (no TCP at all)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.data = work / "pgdata"
        self.socket_dir = work / "pgsock"
        self.socket_dir.mkdir(parents=True)
        work.chmod(0o755)
        shutil.chown(self.socket_dir, "postgres")
        self.data.mkdir()
        shutil.chown(self.data, "postgres")
        self._pg("initdb", "-D", self.data, "-U", "orthanc", "--auth=trust", "-E", "UTF8")
        self._pg("pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", self.socket_dir / "pg.log",
                 "-o",
                 f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
                 "-c fsync=off", "start")
        self._pg("createdb", "-h", self.socket_dir, "-U", "orthanc", "orthanc")

    def _pg(self, tool: str, *args: object) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool),
                        *map(str, args)], check=True, capture_output=True, timeout=90,
                       cwd=self.work)

    @property
    def orthanc_settings(self) -> dict:
        return {"Host": str(self.socket_dir), "Port": 5432, "Database": "orthanc",
                "Username": "orthanc", "Password": ""}

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "-w", "-t", "30", "stop"],
                       capture_output=True, timeout=60, cwd=self.work)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
