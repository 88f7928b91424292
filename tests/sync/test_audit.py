"""Audit log: hash chain, tamper detection by line number, torn tails, many writers, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sync.audit import GENESIS, AuditFieldError, AuditLog, record_hash, tail, verify

ROOT = Path(__file__).resolve().parents[3]


def _write(path: Path, n: int) -> None:
    with AuditLog(path) as log:
        for i in range(n):
            log.record("capture.stored", capture_id=f"c{i}", size=i, operator="nurse")


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_records_chain_and_verify(tmp_path):
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        first = log.record("vault.started", station_id="st-1")
        second = log.record("capture.viewed", capture_id="c1", part="image", ok=True,
                            took=1.5, changed=["a", "b"], none=None)
    assert first["prev"] == GENESIS and first["seq"] == 1
    assert second["prev"] == first["hash"] and second["seq"] == 2
    assert record_hash(second) == second["hash"]
    result = verify(path)
    assert result.ok and result.records == 2 and result.head == second["hash"]
    assert oct(path.stat().st_mode)[-3:] == "600"
    entries = tail(path, 1)
    assert entries == [second]
    assert json.loads(_lines(path)[1])["fields"]["changed"] == ["a", "b"]


def test_reopening_continues_the_chain(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3)
    _write(path, 2)
    result = verify(path)
    assert result.ok and result.records == 5


@pytest.mark.parametrize("field", ["patient_id", "patient", "MRN", "name", "encounter"])
def test_patient_identifier_fields_are_refused(tmp_path, field):
    with AuditLog(tmp_path / "a.log") as log:
        with pytest.raises(AuditFieldError, match="pseudonym"):
            log.record("capture.stored", **{field: "4711"})
        with pytest.raises(AuditFieldError):
            log.record("Bad Event!")
        with pytest.raises(AuditFieldError):
            log.record("x", blob=object())
    assert (tmp_path / "a.log").read_bytes() == b""


@pytest.mark.parametrize(("damage", "line", "reason"), [
    ("edit", 3, "hash does not match"),
    ("delete", 3, "sequence number"),
    ("swap", 3, "sequence number"),
    ("garbage", 4, "not valid JSON"),
    ("torn", 6, "incomplete last line"),
])
def test_tampering_is_found_at_its_line(tmp_path, damage, line, reason):
    path = tmp_path / "audit.log"
    _write(path, 6)
    lines = _lines(path)
    if damage == "edit":
        lines[2] = lines[2].replace(b'"operator":"nurse"', b'"operator":"admin"')
    elif damage == "delete":
        del lines[2]
    elif damage == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif damage == "garbage":
        lines[3] = b"{not json\n"
    elif damage == "torn":
        lines[5] = lines[5][:20]
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok
    assert result.line == line and reason in result.problem
    assert result.records == line - 1


def test_rehashed_edit_still_breaks_the_next_line(tmp_path):
    """Recomputing the edited line's own hash does not help: the next line chains to the old."""
    path = tmp_path / "audit.log"
    _write(path, 4)
    lines = _lines(path)
    entry = json.loads(lines[1])
    entry["fields"]["operator"] = "someone-else"
    entry["hash"] = record_hash(entry)
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert (result.ok, result.line) == (False, 3)
    assert "does not chain" in result.problem


def test_torn_tail_is_repaired_on_open_and_recorded(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3)
    with path.open("ab") as handle:
        handle.write(b'{"event":"capture.sto')
    assert not verify(path).ok
    with AuditLog(path) as log:
        assert log.repaired_bytes == 21
        log.record("after.repair")
    result = verify(path)
    assert result.ok and result.records == 5
    events = [json.loads(x)["event"] for x in _lines(path)]
    assert events[-2:] == ["audit.tail_repaired", "after.repair"]


def test_threads_and_processes_append_without_breaking_the_chain(tmp_path):
    path = tmp_path / "audit.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from sync.audit import AuditLog
        log = AuditLog({str(path)!r}, fsync=False)
        for i in range(150):
            log.record("proc.event", n=i)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    log = AuditLog(path, fsync=False)
    threads = [threading.Thread(target=lambda: [log.record("thread.event", n=i)
                                                for i in range(100)]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=60) == 0
    log.close()
    result = verify(path)
    assert result.ok, (result.line, result.problem)
    assert result.records == 3 * 150 + 3 * 100


def _station(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "capture-station"),
                           *map(str, args)], capture_output=True, text=True, timeout=60)


def test_cli_verify_ok_and_broken(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nstate_dir = "{state}"\n')
    _write(state / "audit.log", 5)
    ok = _station("audit", "verify", "--config", config)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout and "5 records" in ok.stdout
    shown = _station("audit", "show", "--config", config, "-n", "2")
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 2
    assert "capture.stored" in shown.stdout and 'capture_id="c4"' in shown.stdout

    lines = _lines(state / "audit.log")
    del lines[1]
    (state / "audit.log").write_bytes(b"".join(lines))
    broken = _station("audit", "verify", "--file", state / "audit.log")
    assert broken.returncode == 1
    assert "line 2" in broken.stderr and "BROKEN" in broken.stderr
    assert "Traceback" not in broken.stderr

    missing = _station("audit", "verify", "--file", tmp_path / "none.log")
    assert missing.returncode == 1 and "no audit log" in missing.stderr
