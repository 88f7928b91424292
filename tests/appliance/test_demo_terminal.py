"""What the demo's terminal shows, and that no decrypted photo outlives a temporary demo."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.commands._demo_output import relay_receiver_log

REPO = Path(__file__).resolve().parents[2]
RECEIVER_LOG = """INFO practice.receiver_api: enrolled st-1
INFO websecurity.https_server: https server listening on 127.0.0.1:1
WARNING websecurity.cheroot: something to look at
Traceback (most recent call last):
  File "x.py", line 1, in <module>
OSError: boom
INFO practice.receiver_api: filed capture 01a2
ERROR practice.filing: could not file
"""


@pytest.mark.parametrize(("verbose", "shown"), [
    (False, ["WARNING websecurity.cheroot: something to look at",
             "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
             "OSError: boom", "ERROR practice.filing: could not file"]),
    (True, RECEIVER_LOG.splitlines()),
])
def test_the_receiver_log_is_relayed_by_level_with_its_tracebacks(verbose, shown):
    said: list[str] = []
    relay_receiver_log(io.StringIO(RECEIVER_LOG), said.append, verbose).join(5)
    assert said == [f"receiver: {line}" for line in shown]


def _start_demo(tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "appliance.cli", "demo", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _read_until(process: subprocess.Popen, prefix: str, lines: list[str],
                timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return line
    pytest.fail(f"no {prefix!r} line in:\n" + "\n".join(lines))


def _workdir(lines: list[str]) -> Path:
    line = next(line for line in lines if line.startswith("receiver: 127.0.0.1:"))
    return Path(line.split(" files into ", 1)[1]).parent.parent


@pytest.mark.slow
def test_one_line_per_event_and_ctrl_d_removes_the_temporary_folder(tmp_path):
    process = _start_demo(tmp_path)
    lines: list[str] = []
    try:
        _read_until(process, "patient identified", lines)
        workdir = _workdir(lines)
        assert workdir.parent == tmp_path and workdir.name.startswith("capture-demo-")
        for _ in range(2):
            process.stdin.write("\n")
            process.stdin.flush()
            _read_until(process, "filed: ", lines)
        process.stdin.close()  # Ctrl-D
        process.wait(60)
        rest, err = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    lines += rest.splitlines()
    assert process.returncode == 0, err
    assert not workdir.exists()
    assert f"removed {workdir} (the demo's photos and keys)" in lines
    events = [line.split(":", 1)[0] for line in lines
              if re.match(r"(captured|delivered|filed): ", line)]
    assert sorted(events) == sorted(["captured", "delivered", "filed"] * 2), lines
    captured = [line.split()[1] for line in lines if line.startswith("captured: ")]
    assert len(set(captured)) == 2
    terminal = "\n".join(lines) + err
    for noise in ("INFO ", "EOF occurred", "Traceback", "delivered audit"):
        assert noise not in terminal, terminal


@pytest.mark.slow
def test_sigterm_also_removes_it_but_a_workdir_is_kept(tmp_path):
    process = _start_demo(tmp_path)
    lines: list[str] = []
    try:
        _read_until(process, "patient identified", lines)
        workdir = _workdir(lines)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and not workdir.exists()

    kept = tmp_path / "kept"
    process = _start_demo(tmp_path, "--workdir", str(kept), "--no-input")
    try:
        _read_until(process, "patient identified", [])
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert (kept / "receiver" / "keys").is_dir() and "removed" not in out
