"""Sealed files: durable under their name only when complete, a full disk a DiskFullError."""

from __future__ import annotations

import os

import pytest

from appliance.vault import DiskFullError
from appliance.vault.durable import (
    PAGE,
    WRITEBACK_BYTES,
    AlignedBuffer,
    WriteBehindFile,
    write_new,
)
from sync.durable import is_temp_name


def _temps(directory) -> list[str]:
    return [n for n in os.listdir(directory) if is_temp_name(n)]


def test_the_stretch_is_on_disk_before_the_header_and_the_name(tmp_path):
    data = os.urandom(3 * WRITEBACK_BYTES + 12345)
    start = 700  # the stretch begins inside the first page, after a "header"
    path = tmp_path / "item.sealed"
    with WriteBehindFile(path, len(data), AlignedBuffer()) as out:
        out.buffer[: len(data)] = data
        out.ready(start, start + 10)  # less than a megabyte: nothing written yet
        temp = tmp_path / _temps(tmp_path)[0]
        assert temp.stat().st_size == 0
        out.ready(start, start + 2 * WRITEBACK_BYTES + 5)
        on_disk = temp.read_bytes()
        assert len(on_disk) == 2 * WRITEBACK_BYTES  # whole pages, from the first full page
        assert on_disk[:PAGE] == bytes(PAGE)  # the header page waits for the end
        assert on_disk[PAGE:] == data[PAGE: 2 * WRITEBACK_BYTES]
        assert not path.exists()
        out.ready(0, len(data))
        assert temp.read_bytes() == data
        assert not path.exists()  # complete, but not durable under its name yet
        assert out.commit() == len(data)
    assert path.read_bytes() == data
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("size", [1, PAGE - 1, PAGE, PAGE + 1, WRITEBACK_BYTES + PAGE + 1])
def test_sizes_around_page_boundaries(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "f"
    with WriteBehindFile(path, size, AlignedBuffer()) as out:
        out.buffer[:size] = data
        if size > PAGE:
            out.ready(1, size - 1)
        out.ready(0, size)
        out.commit()
    assert path.read_bytes() == data


def test_leaving_without_commit_removes_everything(tmp_path):
    path = tmp_path / "f"
    with pytest.raises(KeyError), WriteBehindFile(path, 3 * WRITEBACK_BYTES,
                                                  AlignedBuffer()) as out:
        out.ready(5, 2 * WRITEBACK_BYTES)
        assert _temps(tmp_path)
        raise KeyError("producer failed")
    assert os.listdir(tmp_path) == []


def test_commit_before_complete_is_refused(tmp_path):
    with WriteBehindFile(tmp_path / "f", 100, AlignedBuffer()) as out:
        with pytest.raises(RuntimeError, match="before it was complete"):
            out.commit()
    assert os.listdir(tmp_path) == []


def test_sync_first_then_commit_or_abort(tmp_path):
    data = os.urandom(PAGE * 3 + 5)
    for keep in (True, False):
        path = tmp_path / f"f{keep}"
        with WriteBehindFile(path, len(data), AlignedBuffer()) as out:
            out.buffer[: len(data)] = data
            with pytest.raises(RuntimeError, match="before it was complete"):
                out.sync()
            out.ready(0, len(data))
            out.sync()
            out.sync()  # once is enough; twice is harmless
            assert not path.exists()  # durable contents, but no name yet
            if keep:
                out.commit()
        assert path.exists() == keep
        if keep:
            assert path.read_bytes() == data
    assert _temps(tmp_path) == []


def test_never_replaces_an_existing_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"kept")
    with WriteBehindFile(path, 3, AlignedBuffer()) as out:
        out.buffer[:3] = b"new"
        out.ready(0, 3)
        with pytest.raises(FileExistsError):
            out.commit()
    assert path.read_bytes() == b"kept" and _temps(tmp_path) == []


def test_one_stretch_only(tmp_path):
    with WriteBehindFile(tmp_path / "f", 10 * PAGE, AlignedBuffer()) as out:
        out.ready(100, 200)
        with pytest.raises(ValueError, match="one growing stretch"):
            out.ready(300, 400)


def test_aligned_buffer_is_reused_and_grows():
    buffer = AlignedBuffer()
    first = buffer.view(10)
    assert len(first) == PAGE
    first[:4] = b"abcd"
    again = buffer.view(PAGE)
    assert bytes(again[:4]) == b"abcd"  # the same memory, not a fresh allocation
    bigger = buffer.view(3 * PAGE + 1)
    assert len(bigger) == 4 * PAGE
    del first, again, bigger
    buffer.close()


def test_write_new_creates_the_file_from_its_chunks(tmp_path):
    path = tmp_path / "item.sealed"
    assert write_new(path, (b"ab", memoryview(b"cde"), b"")) == 5
    assert path.read_bytes() == b"abcde"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["item.sealed"]


def test_write_new_never_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"kept")
    with pytest.raises(FileExistsError):
        write_new(path, [b"new"])
    assert path.read_bytes() == b"kept" and _temps(tmp_path) == []


def test_write_new_leaves_nothing_when_the_producer_fails(tmp_path):
    def chunks():
        yield b"sealed so far"
        raise KeyError("sealing failed")

    with pytest.raises(KeyError):
        write_new(tmp_path / "f", chunks())
    assert os.listdir(tmp_path) == []


@pytest.mark.root
def test_a_full_disk_is_a_disk_full_error_and_leaves_nothing(small_disk):
    with pytest.raises(DiskFullError):
        write_new(small_disk / "big", [bytes(1 << 20)] * 4)
    assert os.listdir(small_disk) == []
    size = 4 << 20
    with pytest.raises(DiskFullError), WriteBehindFile(small_disk / "big", size,
                                                       AlignedBuffer()) as out:
        out.ready(0, size)
        out.commit()
    assert os.listdir(small_disk) == []
