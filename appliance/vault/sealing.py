"""Seal a capture straight to disk while its image data is still being checked.

Storing a capture is three long jobs over the same five megabytes: finding where the JPEG's
entropy-coded data ends (:mod:`.exif`: to drop anything trailing the image, such as MPF
secondary images or an appended motion-photo video, every byte has to be looked at), sealing
it (:func:`sync.envelope.seal_into`) and writing it (:class:`.durable.WriteBehindFile`). On
the station's two cores they overlap:

1. the header segments are cleaned (head-only :func:`.exif.strip_plan`, microseconds);
2. the *speculative* image -- the cleaned header followed by the original from the first scan
   to the very end, as two views, never copied -- is sealed into the reused buffer under a
   fresh data key. The calling thread encrypts the near half and writes every sealed stretch
   at once (the disk is the slowest part, so it starts first); the worker encrypts the far
   half, then walks the whole image (:func:`.exif.strip_plan` with its numpy marker scan).
   The key wraps and Poly1305 come last on the calling thread, while the disk catches up;
3. in the common case (nothing dropped after the first scan, nothing after the end-of-image
   marker) the check agrees and the temp file is committed (fsync, link, directory fsync).
   Otherwise the temp file is removed uncommitted and the image as actually stripped is
   sealed again under a *new* data key, so no key and nonce ever encrypt two plaintexts.

A wrong guess can put ciphertext of the trailing data into a temp file that is deleted again:
never plaintext, and only under a key that exists nowhere but in that file's key wraps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from sync.envelope import PartData, part_lengths, plan_envelope, seal_into

from .durable import AlignedBuffer, WriteBehindFile
from .exif import StripPlan, strip_plan

#: Threads seal_capture_file needs on its ``worker``: one, which encrypts the far half of the
#: photo and then checks the image (the calling thread seals the rest and writes).
WORKER_THREADS = 1


def seal_capture_file(
    jpeg: bytes,
    *,
    path: Path,
    metadata: bytes,
    preview: bytes,
    recipients: Sequence[tuple[str, X25519PublicKey]],
    station_id: str,
    item_id: str,
    worker: Executor,
    buffer: AlignedBuffer,
) -> int:
    """Durably create ``path``: the sealed capture of ``jpeg`` with identifying metadata
    removed (see module doc); returns its size. ``metadata`` is the encoded metadata part;
    ``worker`` needs :data:`WORKER_THREADS` free threads. Raises JpegError for an image that
    is not a complete JPEG, EnvelopeError if the envelope cannot be built, DiskFullError;
    nothing is left on disk after an error."""
    head = strip_plan(jpeg, head_only=True)
    speculative = [head.head, memoryview(jpeg)[head.scan_at:]]
    target = _CaptureFile(path, metadata, preview, tuple(recipients), station_id, item_id,
                          worker, buffer)
    checking: list[Future[StripPlan]] = []

    def start_check() -> None:
        # Queued behind the half of the photo the sealer hands the worker first.
        if not checking:
            checking.append(worker.submit(strip_plan, jpeg))

    try:
        with target.sealed(speculative, on_first_stretch=start_check) as out:
            start_check()
            if not checking[0].done():
                out.sync()  # let the disk finish while the check does
            plan = checking[0].result()
            if plan.head == head.head and plan.tail_is_rest_of(len(jpeg)):
                return out.commit()
    except BaseException:
        if checking and not checking[0].cancel():
            with contextlib.suppress(Exception):
                checking[0].result()  # the worker must be done with the image before we return
        raise
    # Something after the first scan was dropped or trailed the image: the speculative file
    # is gone; seal the stripped image under a fresh data key.
    with target.sealed(plan.pieces(jpeg)) as out:
        return out.commit()


@dataclass(frozen=True)
class _CaptureFile:
    """Where and how one capture is sealed; :meth:`sealed` may run twice (see module doc)."""

    path: Path
    metadata: bytes
    preview: bytes
    recipients: tuple[tuple[str, X25519PublicKey], ...]
    station_id: str
    item_id: str
    worker: Executor
    buffer: AlignedBuffer

    @contextlib.contextmanager
    def sealed(self, image: PartData,
               on_first_stretch: Callable[[], None] | None = None) -> Iterator[WriteBehindFile]:
        """Seal ``image`` into the buffer and write behind into a temp file for ``path``;
        yields the :class:`WriteBehindFile` complete and ready to commit (removed if it is
        not). ``on_first_stretch`` runs once the first sealed stretch is ready."""
        parts = {"metadata": self.metadata, "image": image, "preview": self.preview}
        plan = plan_envelope("capture", part_lengths(parts), recipients=self.recipients,
                             station_id=self.station_id, item_id=self.item_id)

        def ready(start: int, end: int) -> None:
            nonlocal on_first_stretch
            if on_first_stretch is not None:
                on_first_stretch()
                on_first_stretch = None
            out.ready(start, end)

        with WriteBehindFile(self.path, plan.total_size, self.buffer) as out:
            seal_into(plan, parts, out.buffer, on_ready=ready, worker=self.worker)
            yield out
