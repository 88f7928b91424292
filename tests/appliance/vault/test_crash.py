"""Crash safety: a writer process killed with SIGKILL at random moments, hundreds of times.

Each round forks a writer that opens the vault (running recovery), then stores captures,
leases, delivers, releases, amends, discards and shreds at random, reporting every capture id
*after* ``store_capture`` returned. It is killed after a random delay (often inside recovery,
often in the middle of a write). The test then restarts the vault and checks:

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
import signal
import time

import pytest

from appliance.vault import Vault, verify_audit_log
from sync.envelope import open_envelope

from .conftest import enrol, metadata
from .plaintext import assert_no_plaintext

ROUNDS = 200
MAX_DELAY = 0.2
PATIENT = "CRASHTEST-PATIENT-90210"


def _writer(paths, jpeg: bytes, seed: int, report_fd: int) -> None:
    rng = random.Random(seed)
    vault = Vault(paths, reserve_bytes=0, review_window_seconds=0.0, lease_seconds=0.05)
    stored: list[str] = []
    while True:
        op = rng.random()
        if op < 0.55 or not stored:
            record = vault.store_capture(jpeg, metadata(patient=PATIENT))
            stored.append(record.capture_id)
            os.write(report_fd, f"C {record.capture_id}\n".encode())
        elif op < 0.75:
            item = vault.lease_next(0.05)
            if item is not None:
                choice = rng.random()
                if choice < 0.6:
                    vault.mark_delivered(item.item_id, b"receipt")
                elif choice < 0.8:
                    vault.release(item.item_id, retry_at=0)
                else:
                    vault.mark_rejected(item.item_id, "refused")
        elif op < 0.85:
            try:
                vault.amend(rng.choice(stored), {"body_site": rng.choice(["arm", "leg"])},
                            "nurse")
            except Exception:  # noqa: BLE001 - discarded captures refuse amendments
                pass
        elif op < 0.92:
            vault.discard(rng.choice(stored), "duplicate", "nurse")
        else:
            vault.tick()


def _run_round(paths, jpeg: bytes, seed: int, delay: float) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        os.close(read_fd)
        code = 0
        try:
            _writer(paths, jpeg, seed, write_fd)
        except BaseException:  # noqa: BLE001 - report through the exit status
            code = 1
        os._exit(code)
    os.close(write_fd)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
        "the writer died on its own (an exception) instead of being killed"
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    lines = b"".join(chunks).decode().splitlines()
    return [line.split()[1] for line in lines if line.startswith("C ")]


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
def test_sigkill_at_random_points_loses_nothing_and_leaves_nothing(paths, practice, still):
    enrol(paths, practice)
    Vault(paths, reserve_bytes=0).close()  # identity and schema exist before the first kill
    rng = random.Random(20260102)
    committed: set[str] = set()
    verified: set[str] = set()
    for _ in range(ROUNDS):
        delay = rng.random() * MAX_DELAY
        committed.update(_run_round(paths, still, rng.randrange(1 << 30), delay))
        _check(paths, practice, committed, verified)
    assert len(committed) > ROUNDS // 2, "the writer rarely got to store anything"
    assert_no_plaintext(paths.root, [PATIENT.encode()])
