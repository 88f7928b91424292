"""Crash safety: a writer process killed with SIGKILL at random moments, hundreds of times.

Each round a fork server (:mod:`.crash_writer`) forks a writer that opens the vault (running
recovery), then stores captures, leases, delivers, releases, amends, discards and shreds at
random, reporting every capture id *after* ``store_capture`` returned. It is killed after a
random delay (often inside recovery, often in the middle of a write). The test then restarts
the vault and checks:

* SQLite ``integrity_check`` passes;
* no temp file, no quarantined file, no sealed file without a row, no row without its file;
* every sealed file is complete and opens with the practice key (each checked once);
* every capture the writer was told is stored still exists (never ``lost``): present, or
  legitimately discarded or shredded after delivery;
* the audit log's chain verifies.

At the end the state directory is scanned for plaintext (JPEG/PNG/EXIF markers, patient id).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.vault import Vault, verify_audit_log

from .conftest import enrol, opener
from .crash_writer import PATIENT
from .plaintext import assert_no_plaintext

ROUNDS = 200
MAX_DELAY = 0.2
ROOT = Path(__file__).resolve().parents[3]


def _check(paths, practice, committed: set[str], verified: set[str]) -> None:
    with Vault(paths, reserve_bytes=0) as vault:
        assert vault.catalog.integrity_ok()
        names = os.listdir(paths.captures)
        assert [n for n in names if n.endswith(".tmp")] == []
        assert "damaged" not in names
        rows = {r["item_id"]: r for r in vault.catalog.query(
            "SELECT i.item_id, i.kind, i.file, i.size, i.state, c.discarded_at FROM items i "
            "LEFT JOIN captures c ON c.capture_id = i.item_id")}
        files = {n for n in names if n.endswith(".sealed")}
        assert files == {r["file"] for r in rows.values() if r["file"]}, "orphans or missing"
        assert not [r for r in rows.values() if r["state"] == "lost"]
        open_envelope = opener(vault)
        for item_id, row in rows.items():
            if row["file"] is None or item_id in verified:
                continue
            path = paths.captures / row["file"]
            assert path.stat().st_size == row["size"]
            opened = open_envelope(path, practice)
            assert opened.item_id == item_id and opened.kind == row["kind"]
            if row["kind"] == "capture":
                assert opened.metadata["capture_id"] == item_id
                assert opened.image.startswith(b"\xff\xd8")
            verified.add(item_id)
        for capture_id in committed:
            row = rows.get(capture_id)
            assert row is not None, "a stored capture vanished"
            assert row["file"] is not None or row["discarded_at"] is not None \
                or row["state"] in ("delivered", "discarded")
    result = verify_audit_log(paths.audit_log)
    assert result.ok, (result.line, result.problem)


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_and_leaves_nothing(paths, practice, still,
                                                                   tmp_path):
    enrol(paths, practice)
    Vault(paths, reserve_bytes=0).close()  # identity and schema exist before the first kill
    jpeg_path = tmp_path / "still.jpg"  # outside the state directory
    jpeg_path.write_bytes(still)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.appliance.vault.crash_writer", str(paths.root),
         str(jpeg_path)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rng = random.Random(20260102)
    committed: set[str] = set()
    verified: set[str] = set()
    try:
        assert server.stdout.readline().strip() == "READY"
        for _ in range(ROUNDS):
            server.stdin.write(f"ROUND {rng.randrange(1 << 30)} {rng.random() * MAX_DELAY}\n")
            server.stdin.flush()
            words = server.stdout.readline().split()
            assert words[:2] == ["DONE", "killed"], f"the writer did not run until killed: {words}"
            committed.update(words[2:])
            _check(paths, practice, committed, verified)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    assert len(committed) > ROUNDS // 2, "the writer rarely got to store anything"
    assert_no_plaintext(paths.root, [PATIENT.encode()])
