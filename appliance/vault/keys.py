"""The station's keys: one on disk (identity), two in memory only (review, pseudonym).

* Identity: Ed25519, ``StatePaths.identity_key`` (PKCS8 PEM, mode 0600), created on first use
  and never replaced (the receiver registered its public half at enrolment). The station id is
  derived from its public key by :func:`sync.protocol.station_id_for`:
  ``"st-" + hex(SHA-256("capture-station-id\\n" || raw public key))[:24]``, so the id names the
  key and cannot be claimed by another station.
* Review key: X25519, generated at each start and never written anywhere; every capture is also
  sealed to it so this start's review UI can show previews. After a restart, or on a stolen
  station, nothing on disk opens with anything the station holds.
* Pseudonym key: 32 random bytes per start for :class:`~.pseudonym.Pseudonymizer`.
"""

from __future__ import annotations

import contextlib
import logging
import stat
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync.durable import write_durably
from sync.envelope import key_id
from sync.protocol import station_id_for

from ..paths import StatePaths
from .errors import VaultError
from .pseudonym import Pseudonymizer

log = logging.getLogger("capture_station.vault")


@dataclass(frozen=True)
class StationIdentity:
    private_key: Ed25519PrivateKey = field(repr=False)
    public_raw: bytes
    station_id: str


def _identity(private_key: Ed25519PrivateKey) -> StationIdentity:
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return StationIdentity(private_key, raw, station_id_for(raw))


def load_or_create_identity(paths: StatePaths) -> StationIdentity:
    """The station's identity, created (mode 0600) if missing; a damaged key is an error."""
    paths.ensure()
    path = paths.identity_key
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # Never replaces a key another process created meanwhile: that one is used.
        with contextlib.suppress(FileExistsError):
            write_durably(path, pem, 0o600, replace=False)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("identity key was readable by others (mode %o); tightened to 600", mode)
        path.chmod(0o600)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise VaultError(f"{path} is damaged (not a PEM private key); the station cannot sign "
                         "deliveries until it is restored or the station is re-enrolled") \
            from None
    if not isinstance(key, Ed25519PrivateKey):
        raise VaultError(f"{path} is not an Ed25519 key")
    return _identity(key)


class SessionKeys:
    """Keys that exist for one start of the station and die with the process."""

    def __init__(self) -> None:
        self._review = X25519PrivateKey.generate()
        self.pseudonyms = Pseudonymizer()

    def __repr__(self) -> str:
        return f"SessionKeys(review_kid={self.review_kid!r})"

    @property
    def review_private(self) -> X25519PrivateKey:
        return self._review

    @property
    def review_public(self) -> X25519PublicKey:
        return self._review.public_key()

    @property
    def review_kid(self) -> str:
        return key_id(self.review_public)
