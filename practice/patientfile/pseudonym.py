"""Patient pseudonyms for the practice audit log: who looked at which file, without the id.

The audit log must not hold patient identifiers (it is copied, exported and read by people
who may not see the file), yet "who opened this patient's file?" must be answerable. Each
patient gets ``ref`` = the first 20 hex digits of HMAC-SHA256(secret, issuer NUL patient_id),
with a random secret kept in the data directory (``patient-ref.key``, 0600). The index stores
the ref per patient, so a records officer can go from an audit line to the patient and back;
without the secret a ref cannot be tested against a guessed id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from sync.durable import write_durably

KEY_NAME = "patient-ref.key"


class Pseudonyms:
    """Derives patient refs with the data directory's secret (made on first use)."""

    def __init__(self, data_dir: Path) -> None:
        path = Path(data_dir) / KEY_NAME
        if not path.exists():
            try:
                write_durably(path, secrets.token_bytes(32), 0o600, replace=False)
            except FileExistsError:
                pass  # another process made it first
        self._secret = path.read_bytes()
        if len(self._secret) != 32:
            raise ValueError(f"{path} is not a 32-byte pseudonym secret")

    def ref(self, issuer: str, patient_id: str) -> str:
        message = issuer.encode("utf-8", "surrogatepass") + b"\0" + patient_id.encode(
            "utf-8", "surrogatepass")
        return "p-" + hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:20]
