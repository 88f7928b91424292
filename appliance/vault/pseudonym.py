"""Keyed patient pseudonyms for grouping captures in the review UI.

The key is generated at each start and lives in memory only: a pseudonym keyed by a secret on
the same disk could be reversed by hashing every plausible MRN, so after a restart the stored
pseudonyms are just opaque strings nobody can link to a patient (or to each other across starts).
"""

from __future__ import annotations

import hashlib
import hmac
import os


class Pseudonymizer:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = os.urandom(32) if key is None else key
        if len(self._key) < 16:
            raise ValueError("pseudonym key too short")

    def __repr__(self) -> str:
        return "Pseudonymizer(<in-memory key>)"

    def patient(self, issuer: str | None, patient_id: str) -> str:
        """``p-`` and 24 hex digits of HMAC-SHA256(key, issuer NUL patient id)."""
        message = f"{issuer or ''}\x00{patient_id}".encode()
        return "p-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]
