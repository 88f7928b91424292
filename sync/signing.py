"""Station request signatures (RFC 9421 HTTP Message Signatures, Ed25519) and their checks.

Every request a station makes is signed with its Ed25519 identity key over the method, the
path, the body's SHA-256 (``Content-Digest``, RFC 9530) and its length, with a ``created``
time, a random ``nonce`` and the application ``tag``. The receiver verifies the signature
against the key registered at enrolment, refuses anything outside the time window, and
remembers each nonce for the whole window, so a captured request cannot be played again.
The body itself is checked against the signed digest while it streams to disk.
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from .errors import SyncError
from .protocol import (
    CLOCK_SKEW_SECONDS,
    COVERED_COMPONENTS,
    SIGNATURE_LABEL,
    SIGNATURE_MAX_AGE_SECONDS,
    SIGNATURE_TAG,
    StationReport,
    content_digest_value,
    parse_content_digest,
)


@dataclass
class Message:
    """The minimal request shape the signature library reads: method, absolute URL, headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, private: Ed25519PrivateKey | None = None,
                 lookup: Callable[[str], Ed25519PublicKey | None] | None = None) -> None:
        self._private = private
        self._lookup = lookup

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if self._private is None:
            raise HTTPMessageSignaturesException("no signing key")
        return self._private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self._lookup(key_id) if self._lookup else None


class RequestSigner:
    """Signs station requests. ``clock`` returns the receiver's idea of now (epoch seconds).

    The station's own clock may be wrong (no NTP in the exam room); the client learns the
    receiver's time from the ``Date`` header of pinned TLS responses and signs with that.
    """

    def __init__(self, key: Ed25519PrivateKey, key_id: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.key_id = key_id
        self.clock = clock
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(private=key)
        )

    def headers(self, method: str, path: str, *, sha256_hex: str, length: int,
                report: StationReport | None = None) -> dict[str, str]:
        """The headers to send: Content-Length, Content-Digest, the station's status
        headers (``report``, signed too), Signature-Input, Signature."""
        status = report.headers() if report is not None else {}
        message = Message(method, "https://receiver" + path, {
            "Content-Length": str(length),
            "Content-Digest": content_digest_value(sha256_hex),
            **status,
        })
        created = datetime.datetime.fromtimestamp(int(self.clock()), tz=datetime.UTC)
        self._signer.sign(
            message,
            key_id=self.key_id,
            created=created,
            nonce=secrets.token_urlsafe(18),
            label=SIGNATURE_LABEL,
            tag=SIGNATURE_TAG,
            covered_component_ids=COVERED_COMPONENTS + tuple(n.lower() for n in status),
            use_existing_digest=True,
        )
        return message.headers


class SignatureRejected(SyncError):
    """The request is not signed as the protocol requires; the message is safe to return.

    An unknown key and a signature that does not verify give the same message
    (:data:`NOT_VERIFIED`), so nobody can probe which station ids exist; ``reason`` holds the
    library's words, for the server's log only. A time outside the window has its own
    message (:data:`OUT_OF_WINDOW`): it is checked before any key is looked up, so it tells
    nothing about keys, and a station needs it to see that its clock is off.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


NOT_VERIFIED = "the request signature does not verify"
OUT_OF_WINDOW = "the signature's time is outside the accepted window (check the clock)"
#: Words of the signature library's time-window refusals (see ``validate_created_and_expires``).
_TIME_WORDS = ('"created" parameter is set to a time in the future',
               '"expires" parameter is set to a time in the past',
               "age exceeds maximum allowable age")


@dataclass(frozen=True)
class VerifiedRequest:
    key_id: str
    nonce: str
    created: int
    sha256_hex: str
    length: int
    #: The station's status headers, only as far as the signature covers them.
    report: StationReport = field(default_factory=StationReport)


class _Verifier(HTTPMessageVerifier):
    max_clock_skew = datetime.timedelta(seconds=CLOCK_SKEW_SECONDS)


class RequestVerifier:
    """Checks a request's signature with the key ``lookup(key_id)`` returns (None: unknown).

    Replay protection is the caller's: it must record ``VerifiedRequest.nonce`` for the key
    and refuse a nonce it has seen within :data:`SIGNATURE_MAX_AGE_SECONDS`.
    """

    def __init__(self, lookup: Callable[[str], Ed25519PublicKey | None]) -> None:
        self._verifier = _Verifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(lookup=lookup)
        )

    def verify(self, method: str, path: str, headers: Mapping[str, str]) -> VerifiedRequest:
        message = Message(method, "https://receiver" + path, dict(headers))
        try:
            results = self._verifier.verify(
                message,
                max_age=datetime.timedelta(seconds=SIGNATURE_MAX_AGE_SECONDS),
                expect_tag=SIGNATURE_TAG,
                require_components=COVERED_COMPONENTS,
            )
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            reason = _short(exc)
            timing = any(words in reason for words in _TIME_WORDS)
            raise SignatureRejected(OUT_OF_WINDOW if timing else NOT_VERIFIED, reason) from None
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            # a header the library's parser did not expect: refused like any bad signature
            raise SignatureRejected(NOT_VERIFIED, type(exc).__name__) from None
        if len(results) != 1:
            raise SignatureRejected("exactly one station signature is required")
        result = results[0]
        nonce = result.parameters.get("nonce")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
            raise SignatureRejected("signature needs a nonce")
        digest = parse_content_digest(result.covered_components.get('"content-digest"', ""))
        if digest is None:
            raise SignatureRejected("Content-Digest must carry a sha-256 member")
        length_text = result.covered_components.get('"content-length"', "")
        if not length_text.isdigit() or len(length_text) > 12:
            raise SignatureRejected("Content-Length must be a plain decimal number")
        return VerifiedRequest(
            key_id=str(result.parameters["keyid"]),
            nonce=nonce,
            created=int(result.parameters["created"]),
            sha256_hex=digest,
            length=int(length_text),
            report=StationReport.from_signed(dict(result.covered_components)),
        )


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
