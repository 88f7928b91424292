"""ChaCha20-Poly1305 (RFC 8439) computed as two passes that can run on different cores.

``cryptography``'s one-shot AEAD encrypts and authenticates a message in one call on one core.
The construction is two independent loops, though: ChaCha20 from block counter 1 turns the
plaintext into ciphertext, and Poly1305 (keyed by block 0) authenticates the associated data
and then the *ciphertext*. Encryption never needs the associated data, so a sealer can start
encrypting (and writing) a photo before the envelope header, which holds the HPKE key wraps
and is the associated data, exists, and authenticate the ciphertext afterwards; and since
the keystream is seekable, two threads can encrypt two halves. The output is byte for byte
what ``ChaCha20Poly1305.encrypt`` produces (the tests compare them), so nothing about the
envelope format changes.

``cryptography`` releases the interpreter lock while ChaCha20 runs but not while Poly1305
does; that is why the caller, not this module, decides what runs where.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms
from cryptography.hazmat.primitives.poly1305 import Poly1305

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
_ZEROS = bytes(16)


def _counter_nonce(counter: int, nonce: bytes) -> bytes:
    """``cryptography``'s ChaCha20 takes the 32-bit block counter (little-endian) + nonce."""
    return counter.to_bytes(4, "little") + nonce


BLOCK_LEN = 64


class PartEncryptor:
    """The ChaCha20 pass: feed plaintext in order, get ciphertext into caller-owned memory.

    ``offset`` (a multiple of 64, ChaCha20's block) starts the pass further into the message:
    the keystream is seekable, so two threads can encrypt two halves at once.
    """

    def __init__(self, key: bytes, nonce: bytes, offset: int = 0) -> None:
        _check(key, nonce)
        if offset % BLOCK_LEN or offset < 0:
            raise ValueError("a ChaCha20 pass starts at a multiple of 64 bytes")
        counter = 1 + offset // BLOCK_LEN
        cipher = Cipher(algorithms.ChaCha20(key, _counter_nonce(counter, nonce)), mode=None)
        self._context: CipherContext = cipher.encryptor()

    def encrypt_into(self, plain: bytes | memoryview, out: memoryview) -> None:
        """Encrypt the next ``len(plain)`` bytes into ``out`` (exactly that long)."""
        if len(out) != len(plain):
            raise ValueError("out must be exactly as long as the plaintext")
        if len(plain):
            self._context.update_into(plain, out)


class PartAuthenticator:
    """The Poly1305 pass over the associated data and then the ciphertext, in order."""

    def __init__(self, key: bytes, nonce: bytes, associated_data: bytes) -> None:
        _check(key, nonce)
        block0 = Cipher(algorithms.ChaCha20(key, _counter_nonce(0, nonce)), mode=None)
        one_time_key = block0.encryptor().update(bytes(32))
        self._mac = Poly1305(one_time_key)
        self._mac.update(associated_data)
        self._mac.update(_ZEROS[: -len(associated_data) % 16])
        self._aad_len = len(associated_data)
        self._ct_len = 0

    def update(self, ciphertext: bytes | memoryview) -> None:
        self._mac.update(ciphertext)
        self._ct_len += len(ciphertext)

    def tag(self) -> bytes:
        """The 16-byte tag; the authenticator is spent afterwards."""
        self._mac.update(_ZEROS[: -self._ct_len % 16])
        self._mac.update(struct.pack("<QQ", self._aad_len, self._ct_len))
        return self._mac.finalize()


def _check(key: bytes, nonce: bytes) -> None:
    if len(key) != KEY_LEN or len(nonce) != NONCE_LEN:
        raise ValueError("ChaCha20-Poly1305 takes a 32-byte key and a 12-byte nonce")
