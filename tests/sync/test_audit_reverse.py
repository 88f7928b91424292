"""The shared audit log read newest first across chunk boundaries (the practice UI pages it)."""

from __future__ import annotations

from sync.audit import AuditLog, iter_reverse


def test_iter_reverse_gives_every_record_newest_first_for_any_chunk(tmp_path):
    path = tmp_path / "audit.log"
    with AuditLog(path, fsync=False) as log:
        for n in range(40):
            log.record("patient.viewed", by="dr-a", n=n, pad="x" * (n % 7))
    with open(path, "ab") as handle:
        handle.write(b'{"torn')  # a torn last line is never a record
    for chunk in (1, 7, 64, 1000, 1 << 20):
        assert [e["seq"] for e in iter_reverse(path, chunk=chunk)] == list(range(40, 0, -1))
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert list(iter_reverse(empty)) == []
