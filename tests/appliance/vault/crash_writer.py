"""The writer side of the crash test, run as its own process (``python -m``).

It is a small fork server: it imports everything once, then for each ``ROUND seed delay`` line
on stdin forks a writer that opens the vault and works at random, kills it with SIGKILL after
``delay`` seconds, and answers ``DONE <capture ids the writer reported as stored>``. Forking
from this single-threaded process (not from pytest, which may have threads running) keeps the
writers free of inherited locks, and avoids paying the interpreter start-up for every kill.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

from appliance.paths import StatePaths
from appliance.vault import Vault, VaultError

PATIENT = "CRASHTEST-PATIENT-90210"


def _metadata() -> dict:
    return {"patient_id": PATIENT, "issuer": "HOSP-A", "operator": "nurse1",
            "consent": "clinical", "body_site": "heel"}


def writer(paths: StatePaths, jpeg: bytes, seed: int, report_fd: int) -> None:
    rng = random.Random(seed)
    vault = Vault(paths, reserve_bytes=0, review_window_seconds=0.0, lease_seconds=0.05)
    stored: list[str] = []
    while True:
        op = rng.random()
        if op < 0.55 or not stored:
            record = vault.store_capture(jpeg, _metadata())
            stored.append(record.capture_id)
            os.write(report_fd, f"{record.capture_id}\n".encode())
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
            except VaultError:  # a discarded capture refuses amendments
                pass
        elif op < 0.92:
            vault.discard(rng.choice(stored), "duplicate", "nurse")
        else:
            vault.tick()


def one_round(paths: StatePaths, jpeg: bytes, seed: int, delay: float) -> tuple[list[str], str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 0
        try:
            writer(paths, jpeg, seed, write_fd)
        except BaseException:  # noqa: BLE001 - reported through the exit status
            code = 3
        os._exit(code)
    os.close(write_fd)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    how = "killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL \
        else f"exited-{os.waitstatus_to_exitcode(status)}"
    data = b""
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    return data.decode().split(), how


def main(argv: list[str]) -> int:
    paths = StatePaths(Path(argv[0]))
    jpeg = Path(argv[1]).read_bytes()
    print("READY", flush=True)
    for line in sys.stdin:
        _, seed, delay = line.split()
        ids, how = one_round(paths, jpeg, int(seed), float(delay))
        print("DONE", how, *ids, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
