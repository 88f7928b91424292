"""A hospital's archive: two Orthanc servers sharing one PostgreSQL index (docs/scale.md).

A private PostgreSQL cluster (unix socket only) holds the index; both Orthancs run in one
loopback-only namespace and share a storage directory. The practice server forwards to one,
the instance is found and retrieved through the other, and when the first stops the
forwarder fails over to the second and keeps delivering.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from practice.forwarding.queue import ForwardQueue

from .helpers import file_photo, write_config
from .orthanc import Namespace, Orthanc, Postgres, needs_orthanc, needs_postgres

pytestmark = [*needs_orthanc, needs_postgres, pytest.mark.slow]
CLI = (sys.executable, "-m", "practice.cli")


@pytest.fixture
def cluster():
    work = Path(tempfile.mkdtemp(prefix="cs-pacs-cluster-"))
    work.chmod(0o755)  # the postgres user must reach its data directory
    ns = Namespace(f"cs-pgx-{os.getpid()}")
    postgres = servers = None
    try:
        postgres = Postgres(work / "pg")
        servers = []
        for name, port in (("a", 8042), ("b", 8052)):
            orthanc = Orthanc(ns, work / name, port, name=f"pacs-{name}",
                              postgres=postgres.orthanc_settings)
            orthanc.config_path.write_text(orthanc.config_path.read_text().replace(
                str(work / name / "storage"), str(work / "storage")))
            orthanc.start()
            servers.append(orthanc)
        yield ns, servers
    finally:
        for orthanc in servers or ():
            orthanc.stop()
        if postgres is not None:
            postgres.stop()
        ns.delete()
        shutil.rmtree(work, ignore_errors=True)


def test_two_orthancs_one_index_find_through_the_other_and_fail_over(tmp_path, cluster):
    ns, (a, b) = cluster
    data = tmp_path / "practice"
    data.mkdir()
    write_config(data, {"name": "pacs", "kind": "dicomweb", "url": a.url,
                        "failover_urls": [b.url]})
    queue = ForwardQueue(data)
    first, jpg = file_photo(data, patient_id="PX-C")
    queue.enqueue("capture", first, jpg.relative_to(data))
    assert ns.run(*CLI, "forward", "run", "--once", "--data-dir", data, timeout=120,
                  check=False).returncode == 0
    found = ns.get_json(f"{b.url}/instances?PatientID=PX-C&Modality=XC")
    assert len(found) == 1  # stored through A, found through B

    a.stop()
    second, jpg = file_photo(data, patient_id="PX-C", sequence=2)
    queue.enqueue("capture", second, jpg.relative_to(data))
    done = ns.run(*CLI, "forward", "run", "--once", "--data-dir", data, timeout=120,
                  check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()[-1500:]
    assert len(ns.get_json(f"{b.url}/instances?PatientID=PX-C&Modality=XC")) == 2
    a.start()
    assert len(ns.get_json(f"{a.url}/instances?PatientID=PX-C&Modality=XC")) == 2
    queue.close()
