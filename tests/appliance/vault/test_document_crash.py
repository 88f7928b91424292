"""A station killed (SIGKILL) with a document open: the open document's pages are lost and
nothing of them is left readable; a document sealed before the crash survives, and the
restarted vault finds its state consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from appliance.paths import StatePaths
from appliance.vault import Vault
from tests.appliance.vault.conftest import enrol
from tests.appliance.vault.document_crash import PATIENT
from tests.appliance.vault.plaintext import assert_no_plaintext

ROOT = Path(__file__).resolve().parents[3]


def test_sigkill_with_a_document_open_leaves_nothing_readable(tmp_path, practice):
    paths = StatePaths(tmp_path / "state")
    paths.ensure()
    enrol(paths, practice)
    child = subprocess.Popen([sys.executable, "-m", "tests.appliance.vault.document_crash",
                              str(paths.root)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = child.stdout.readline().split()
        assert line[:1] == ["READY"], line
        sealed = line[1]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert_no_plaintext(paths.root, [PATIENT.id.encode()])
    with Vault(paths, reserve_bytes=0) as vault:
        assert vault.recovery.damaged == vault.recovery.lost == 0
        items = vault.catalog.query("SELECT item_id, kind FROM items WHERE kind = 'document'")
        assert items == [{"item_id": sealed, "kind": "document"}]  # the open one is gone
        files = sorted(p.name for p in paths.captures.iterdir() if p.is_file())
        assert files == [f"{sealed}.sealed"]
