"""Where everything lives under the state directory, in one place.

Nothing under it is readable without keys the station does not keep on disk: sealed captures,
the outbox database (delivery state and keyed pseudonyms only), the public practice key, the
station's signing key (0600) and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "station.db"

    @property
    def captures(self) -> Path:
        """Sealed captures (``<capture_id>.sealed``) and in-flight temp files."""
        return self.root / "captures"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def identity_key(self) -> Path:
        """The station's Ed25519 signing key (PEM, mode 0600)."""
        return self.keys / "identity.pem"

    @property
    def enrolment(self) -> Path:
        """JSON written at enrolment: receiver name and pin, practice public key, station id."""
        return self.root / "enrolment.json"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    @property
    def tls(self) -> Path:
        """The web UI's self-signed certificate and key."""
        return self.root / "tls"

    def ensure(self) -> None:
        """Create the directories (owner-only) if missing."""
        for directory in (self.root, self.captures, self.keys, self.tls):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
