"""Open one sealed file into durable files, in bounded memory: the receiver's and ``open``'s core.

:func:`sync.envelope.open_envelope` verifies the station's signature over every byte
before it releases any plaintext, then hands the parts out chunk by chunk. Here each part the
caller wants goes straight into its own :class:`~sync.durable.DurableFile` (hashed on the
way), parts nobody asked for are dropped, and nothing is held in memory but one chunk. The
files get their names only if the whole file opened: on :class:`EnvelopeError` (or any other
failure) every temp file is removed and no target exists.

Before the files get their names, each part of a capture or document is checked to be what
its kind must carry (:func:`practice.payload.check_parts`: a JPEG that decodes, a well-formed
PDF with the stated pages); a part that is not raises :class:`~practice.payload.ContentRefused`
and nothing is written either. The receiver and ``capture-receiver open`` both come here, so
both apply the same check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.durable import DurableFile
from sync.envelope import Opened, open_envelope

from .payload import check_parts


@dataclass(frozen=True)
class OpenedToFiles:
    """The verified item, and for each part written: its file and its plaintext's SHA-256."""

    opened: Opened
    files: dict[str, Path]
    sha256: dict[str, str]


def open_to_files(sealed: Path, targets: Mapping[str, Path], private_key: X25519PrivateKey,
                  station_key: Ed25519PublicKey, *, mode: int = 0o640,
                  replace: bool = True) -> OpenedToFiles:
    """Verify and open ``sealed``; write each part named in ``targets`` to its path.

    Raises :class:`sync.envelope.EnvelopeError` (nothing written) if the file is not
    exactly what ``station_key``'s station sealed to ``private_key``, and
    :class:`~practice.payload.ContentRefused` (nothing written) if a part is not what its
    kind must carry. ``replace=False``
    never overwrites an existing target (``FileExistsError``).
    """
    digests = {name: hashlib.sha256() for name in targets}
    with ExitStack() as stack:
        outputs = {name: stack.enter_context(DurableFile(path, mode, replace=replace))
                   for name, path in targets.items()}

        def write(name: str, data: memoryview) -> None:
            out = outputs.get(name)
            if out is not None:
                out.write(data)
                digests[name].update(data)

        opened = open_envelope(sealed, private_key, station_key, write=write)
        check_parts(opened.kind, opened.metadata,
                    {name: out.tmp for name, out in outputs.items()})
    return OpenedToFiles(opened, dict(targets),
                         {name: digest.hexdigest() for name, digest in digests.items()})
