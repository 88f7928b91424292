"""The practice's public key, from the enrolment: every sealed item is sealed to it."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ..enrolment import NotEnrolledError, load_enrolment
from ..paths import StatePaths


class PracticeKey:
    """The practice key, parsed again only when the enrolment file changed (a capture should
    not pay for JSON and key parsing every time, but a new enrolment takes effect at once)."""

    def __init__(self, paths: StatePaths) -> None:
        self._paths = paths
        self._cache: tuple[bytes, X25519PublicKey] | None = None

    def __call__(self) -> X25519PublicKey:
        """The current key; NotEnrolledError without a (valid) enrolment."""
        try:
            identity = self._paths.enrolment.read_bytes()
        except OSError:
            raise NotEnrolledError() from None
        cached = self._cache
        if cached is not None and cached[0] == identity:
            return cached[1]
        enrolment = load_enrolment(self._paths)
        if enrolment is None:
            raise NotEnrolledError()
        try:
            key = X25519PublicKey.from_public_bytes(enrolment.practice_key_bytes)
        except (TypeError, ValueError):
            raise NotEnrolledError() from None
        self._cache = (identity, key)
        return key
