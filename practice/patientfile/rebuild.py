"""Recreate the patient-file index from the files on disk (after losing ``patientfile.db``).

Every sidecar under ``inbox/`` and ``retracted/`` is ingested with its history, and every
patient folder's consent file; the files are the record, the index only a fast view of it.
"""

from __future__ import annotations

from pathlib import Path

from sync.durable import is_temp_name

from ..filing import FILE_SUFFIX
from .index import CONSENT_FILE, PatientIndex


def _is_sidecar(path: Path) -> bool:
    name = path.name
    return (name.endswith(".json") and not is_temp_name(name)  # half-written: never indexed
            and not name.endswith(".history.json")
            and name != CONSENT_FILE and ".amend-" not in name)


def rebuild(index: PatientIndex) -> int:
    """Clear the index and ingest everything filed; the number of items indexed."""
    index.clear()
    count = 0
    for top in ("inbox", "retracted"):
        root = index.data_dir / top
        if not root.is_dir():
            continue
        for sidecar in sorted(root.rglob("*.json")):
            if _is_sidecar(sidecar) and _has_item(sidecar):
                index.ingest(sidecar)
                count += 1
    for consent in sorted((index.data_dir / "inbox").rglob(CONSENT_FILE)):
        index.ingest_withdrawals(consent)
    return count


def _has_item(sidecar: Path) -> bool:
    stem = sidecar.name.removesuffix(".json")
    return any((sidecar.with_name(stem + suffix)).exists()
               or (sidecar.with_name(stem + suffix + ".retracted")).exists()
               for suffix in FILE_SUFFIX.values())
