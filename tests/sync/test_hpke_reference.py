"""The independent RFC 9180 sender the envelope vectors rely on: the RFC's vector, and
``cryptography`` opens what it seals."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from tests.sync.hpke_reference import raw_public as _raw
from tests.sync.hpke_reference import reference_hpke_seal


def test_reference_hpke_matches_rfc9180_a21():
    # RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305.
    sk_e = bytes.fromhex("f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600")
    pk_r = bytes.fromhex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
    sk_r = bytes.fromhex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
    info = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
    pt = bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479")
    aad = bytes.fromhex("436f756e742d30")
    want_enc = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
    want_ct = ("1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db2199"
               "3c62ce81883d2dd1b51a28")
    recipient = X25519PublicKey.from_public_bytes(pk_r)
    assert _raw(X25519PrivateKey.from_private_bytes(sk_r).public_key()) == pk_r
    out = reference_hpke_seal(X25519PrivateKey.from_private_bytes(sk_e), recipient, info, pt, aad)
    assert out[:32].hex() == want_enc
    assert out[32:].hex() == want_ct


def test_cryptography_opens_what_the_reference_seals():
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
    recipient = X25519PrivateKey.generate()
    sealed = reference_hpke_seal(X25519PrivateKey.generate(), recipient.public_key(), b"i",
                                 b"k" * 32)
    assert suite.decrypt(sealed, recipient, info=b"i") == b"k" * 32
