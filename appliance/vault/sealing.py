"""Sealed files on disk: each item sealed chunk by chunk straight into a new durable file.

The path of a capture, read top to bottom (:func:`seal_capture_file`):

1. strip identifying metadata from the JPEG (:mod:`.exif`; the image data stays a view);
2. make the preview, unless the camera handed one in (:mod:`.preview`);
3. seal (:func:`sync.envelope.seal_to`) and write each 64 KiB chunk as it is sealed, into
   a temp file beside the target (:class:`sync.durable.DurableFile`, mode 0600);
4. fsync, link under its name (never replacing a file), fsync the directory.

The caller then commits the catalog row (:mod:`.queueing`). A full disk is a
:class:`DiskFullError`; after any error nothing is left on disk. Amendments and audit batches
take the same path without steps 1 and 2 (:func:`write_sealed`).
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from sync.durable import DurableFile
from sync.envelope import PartData, seal_to

from .errors import DiskFullError
from .exif import strip_identifying_metadata, stripped_pieces
from .preview import make_preview

_FULL = (errno.ENOSPC, errno.EDQUOT)


def seal_capture_file(path: Path, jpeg: bytes, metadata: Mapping[str, Any], *,
                      preview: bytes | None, recipients: Sequence[X25519PublicKey],
                      station_key: Ed25519PrivateKey, capture_id: str) -> int:
    """Durably create ``path``: the sealed capture of ``jpeg`` without identifying metadata
    (see module doc); returns its size. Raises JpegError, EnvelopeError, DiskFullError."""
    image = stripped_pieces(jpeg)
    small = make_preview(b"".join(image)) if preview is None \
        else strip_identifying_metadata(preview)
    return write_sealed(path, "capture", metadata, {"image": image, "preview": small},
                        recipients=recipients, station_key=station_key, item_id=capture_id)


def write_sealed(path: Path, kind: str, metadata: Mapping[str, Any],
                 parts: Mapping[str, PartData], *, recipients: Sequence[X25519PublicKey],
                 station_key: Ed25519PrivateKey, item_id: str,
                 subject: str | None = None) -> int:
    """Seal one item into a new file at ``path``, each chunk written as it is sealed, then
    fsync and link; returns the size. Never replaces a file (``FileExistsError``). Raises
    EnvelopeError (before anything is written) or DiskFullError; leaves nothing on error."""
    try:
        with DurableFile(path, 0o600, replace=False) as out:
            seal_to(out.write, kind, metadata, parts, recipients=recipients,
                    station_key=station_key, item_id=item_id, subject=subject)
    except OSError as exc:
        if exc.errno in _FULL:
            raise DiskFullError("disk full while writing a sealed file") from None
        raise
    return out.size


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a sealed file, read a megabyte at a time (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
