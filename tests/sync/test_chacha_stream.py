"""The two-pass ChaCha20-Poly1305 must be byte for byte the one-shot AEAD of RFC 8439."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.chacha_stream import PartAuthenticator, PartEncryptor


def _two_pass(key: bytes, nonce: bytes, plain: bytes, aad: bytes, step: int) -> bytes:
    out = bytearray(len(plain))
    view = memoryview(out)
    encryptor = PartEncryptor(key, nonce)
    for start in range(0, len(plain), step):
        piece = plain[start: start + step]
        encryptor.encrypt_into(piece, view[start: start + len(piece)])
    authenticator = PartAuthenticator(key, nonce, aad)
    for start in range(0, len(plain), max(1, step // 3)):  # other boundaries than encryption
        authenticator.update(view[start: start + max(1, step // 3)])
    return bytes(out) + authenticator.tag()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 63, 64, 65, 1000, (1 << 20) + 3])
@pytest.mark.parametrize("aad_len", [0, 1, 16, 300])
def test_matches_the_one_shot_aead(size, aad_len):
    key, nonce = os.urandom(32), os.urandom(12)
    plain, aad = os.urandom(size), os.urandom(aad_len)
    expected = ChaCha20Poly1305(key).encrypt(nonce, plain, aad)
    for step in (1, 7, 64, 4096, 1 << 20):
        if size // step > 2000:
            continue
        assert _two_pass(key, nonce, plain, aad, step) == expected


def test_the_one_shot_aead_opens_it_and_a_changed_byte_is_refused():
    key, nonce, aad = os.urandom(32), os.urandom(12), b"header"
    sealed = bytearray(_two_pass(key, nonce, b"x" * 5000, aad, 512))
    assert ChaCha20Poly1305(key).decrypt(nonce, bytes(sealed), aad) == b"x" * 5000
    sealed[100] ^= 1
    with pytest.raises(InvalidTag):
        ChaCha20Poly1305(key).decrypt(nonce, bytes(sealed), aad)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="32-byte key"):
        PartEncryptor(b"short", bytes(12))
    with pytest.raises(ValueError, match="12-byte nonce"):
        PartAuthenticator(bytes(32), bytes(8), b"")
    with pytest.raises(ValueError, match="exactly as long"):
        PartEncryptor(bytes(32), bytes(12)).encrypt_into(b"abc", memoryview(bytearray(2)))
