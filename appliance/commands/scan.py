"""``capture-station scan IMAGE...``: what the station would read in each image file.

For IT and support: checks a wristband, badge or command card (photographed, or saved from a
label printer) against this station's configuration, decoder and local formats, without
running the station. One JSON object per line per file::

    {"file": "band.png", "results": [{"role": "patient", "id": "...", "issuer": "GS1",
      "encounter": null, "command": null, "symbology": "datamatrix", "gs1": true,
      "error": null}]}

Whatever a barcode or a file name holds reaches the terminal inert: the JSON escapes control
characters and everything beyond ASCII, and a file name in a message on stderr goes through
``sync.terminal.printable``. The output holds the identifiers read, by design (it is a
diagnostic printed to the operator's terminal, never logged). A file that is missing or not
an image gets a message on stderr and makes the exit status 1; the other files are still
scanned.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from barcode.backends import BACKENDS, BackendUnavailableError
from barcode.reader import Reader, build_reader
from sync.terminal import printable

from ..config import Config
from ._common import CommandError, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "scan", "read wristbands, badges and command cards in image files",
        "Decode every barcode in each IMAGE with this station's settings and print one JSON "
        "line per file: role (patient, caregiver, command, invalid, unknown), id, issuer, "
        "encounter, command, symbology, gs1 and error.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="image files (PNG, JPEG, ... anything Pillow opens)")
    parser.add_argument("--backend", choices=BACKENDS,
                        help="decoder to use (default: the first installed of [barcode] "
                        "backends)")
    parser.set_defaults(func=run)


def reader_from_config(cfg: Config, backend: str | None = None) -> Reader:
    """The station's reader: ``[barcode]`` settings and ``[workflow] body_sites``."""
    try:
        return build_reader(cfg.barcode, cfg.workflow.body_sites, backend=backend)
    except BackendUnavailableError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(f"barcode settings cannot be used: {exc}") from None


def load_image(path: Path) -> Image.Image:
    """The image at ``path`` as 8-bit grayscale; OSError/ValueError with a plain reason."""
    if not path.exists():
        raise FileNotFoundError("no such file")
    if not path.is_file():
        raise IsADirectoryError("not a regular file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("L")
    except UnidentifiedImageError:
        raise ValueError("not an image file this station can read") from None
    except Image.DecompressionBombError:
        raise ValueError("image is too large to decode safely") from None


def run(args: argparse.Namespace) -> int:
    reader = reader_from_config(get_config(args), args.backend)
    failed = 0
    for path in args.images:
        try:
            image = load_image(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"capture-station scan: {printable(path)}: {reason}", file=sys.stderr)
            failed += 1
            continue
        results = [r.as_json() for r in reader.read_frame(image)]
        # ensure_ascii (the default) is what keeps a hostile code inert on the terminal
        print(json.dumps({"file": str(path), "results": results}, ensure_ascii=True),
              flush=True)
    if failed:
        print(f"capture-station scan: {failed} of {len(args.images)} file(s) could not be read",
              file=sys.stderr)
        return 1
    return 0
