"""Seal a capture while its image data is still being checked: two cores, one result.

Stripping a JPEG (:mod:`.exif`) has a cheap part and a costly one. Walking the header segments
up to the first scan takes microseconds; finding where the entropy-coded data ends (to drop
anything trailing the image, such as MPF secondary images or an appended motion-photo video)
means looking at every byte of it. Sealing means ChaCha20-Poly1305 over those same bytes.

Both costly loops release the interpreter lock (numpy's comparisons in
:func:`.exif.find_markers`; the one-shot AEAD in ``cryptography``), so they run at once:

1. the header is cleaned (head-only :func:`.exif.strip_plan`);
2. a worker thread seals the *speculative* image -- the cleaned header followed by the
   original from the first scan to the very end -- with :func:`sync.envelope.seal_chunks`
   (fresh data key, key wraps, one-shot AEAD: exactly envelope v1);
3. meanwhile this thread walks the whole image (:func:`.exif.strip_plan` with its marker scan);
4. in the common case (nothing dropped after the first scan, nothing after the end-of-image
   marker) the two agree and the speculative envelope is the envelope. Otherwise it is thrown
   away unwritten, and the image as actually stripped is sealed again with a *new* data key,
   so no key and nonce ever encrypt two different plaintexts.

Nothing speculative reaches the disk: the caller gets the chunks only after the check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import Executor, Future

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from sync.envelope import seal_chunks

from .exif import StripPlan, strip_plan


def _speculative_image(jpeg: bytes, head: StripPlan) -> memoryview:
    """The cleaned header + the original from the first scan on, as one buffer.

    No copy when the header needed no cleaning; otherwise numpy copies (without the lock).
    """
    if jpeg[: head.scan_at] == head.head:
        return memoryview(jpeg)
    buf = np.empty(len(head.head) + len(jpeg) - head.scan_at, np.uint8)
    buf[: len(head.head)] = np.frombuffer(head.head, np.uint8)
    buf[len(head.head):] = np.frombuffer(jpeg, np.uint8)[head.scan_at:]
    return memoryview(buf)


def seal_capture(
    jpeg: bytes,
    *,
    metadata: bytes,
    preview: bytes,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    worker: Executor,
) -> list[bytes]:
    """The chunks of the sealed capture envelope of ``jpeg`` with identifying metadata removed
    (see module doc). ``metadata`` is the encoded metadata part. Raises JpegError for an
    image that is not a complete JPEG, EnvelopeError if the envelope cannot be built."""
    head = strip_plan(jpeg, head_only=True)
    common = dict(recipients=recipients, station_id=station_id, item_id=item_id)

    def seal_speculatively() -> list[bytes]:
        image = _speculative_image(jpeg, head)
        return seal_chunks("capture", {"metadata": metadata, "image": image,
                                       "preview": preview}, **common)

    speculative: Future[list[bytes]] = worker.submit(seal_speculatively)
    try:
        plan = strip_plan(jpeg)
    except BaseException:
        speculative.cancel()
        if not speculative.cancelled():
            _wait_quietly(speculative)
        raise
    chunks = speculative.result()
    if plan.head == head.head and plan.tail_is_rest_of(len(jpeg)):
        return chunks
    # Something after the first scan was dropped or trailed the image: never use the
    # speculative ciphertext; seal the stripped image under a fresh data key.
    del chunks
    image = b"".join(plan.pieces(jpeg))
    return seal_chunks("capture", {"metadata": metadata, "image": image, "preview": preview},
                       **common)


def _wait_quietly(future: Future[list[bytes]]) -> None:
    """Let the worker finish (the strip error is the one to report, not a sealing one)."""
    with contextlib.suppress(Exception):
        future.result()
