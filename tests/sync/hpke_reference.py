"""An independent RFC 9180 base-mode sender (X25519, HKDF-SHA256, ChaCha20-Poly1305), for vectors.

``cryptography``'s one-shot HPKE draws a fresh ephemeral key on every call, so it cannot
reproduce a published envelope byte for byte. This sender takes the ephemeral key as input;
``tests/sync/test_hpke_reference.py`` checks it against RFC 9180 appendix A.2.1 and checks
that ``cryptography`` opens what it seals. Both envelope test modules use it through
:func:`deterministic_wrap`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")
HPKE_SUITE = b"HPKE" + (0x0020).to_bytes(2, "big") + (1).to_bytes(2, "big") + \
    (3).to_bytes(2, "big")


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def reference_hpke_seal(ephemeral: X25519PrivateKey, recipient: X25519PublicKey, info: bytes,
                        plaintext: bytes, aad: bytes = b"") -> bytes:
    """Single-shot HPKE Seal (RFC 9180 section 6.1) with a caller-chosen ephemeral key."""
    enc = raw_public(ephemeral.public_key())
    dh = ephemeral.exchange(recipient)
    eae_prk = _labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    shared = _labeled_expand(KEM_SUITE, eae_prk, b"shared_secret", enc + raw_public(recipient),
                             32)
    psk_id_hash = _labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(HPKE_SUITE, shared, b"secret", b"")
    key = _labeled_expand(HPKE_SUITE, secret, b"key", context, 32)
    nonce = _labeled_expand(HPKE_SUITE, secret, b"base_nonce", context, 12)
    return enc + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def deterministic_wrap(
    ephemerals: dict[bytes, X25519PrivateKey],
) -> Callable[[bytes, X25519PublicKey, bytes], bytes]:
    """A ``_wrap`` for the envelope sealers: a fixed ephemeral key per recipient (raw public)."""
    def wrap(data_key: bytes, public_key: X25519PublicKey, info: bytes) -> bytes:
        return reference_hpke_seal(ephemerals[raw_public(public_key)], public_key, info, data_key)
    return wrap
