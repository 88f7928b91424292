"""``capture-receiver open``: open one sealed file with the practice key, by hand.

For IT and for audits: check a ``.sealed`` file and write what it holds. A capture gives
``<id>.jpg``, ``<id>.preview.jpg`` and ``<id>.json`` (metadata plus the envelope facts); an
amendment gives ``<id>.json``; an audit batch gives ``<id>.json`` and ``<id>.audit.ndjson``.
A tampered, truncated or wrongly addressed file is refused with the reason, and then nothing
at all is written; existing files are never overwritten. Outputs are mode 0600 (they hold
patient data).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sync.durable import fsync_dir, write_durably
from sync.envelope import EnvelopeError, OpenedEnvelope, open_envelope

from ._common import ReceiverCommandError, add_data_dir, load_keys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("open", help="check and open one .sealed file with the practice key",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("file", type=Path, metavar="FILE.sealed", help="the sealed file")
    parser.add_argument("--out", type=Path, required=True, metavar="OUTDIR",
                        help="directory for the opened files (created if missing)")
    parser.set_defaults(func=run)


def outputs(opened: OpenedEnvelope) -> dict[str, bytes]:
    """File name -> bytes for everything an opened envelope holds."""
    header = opened.header
    item = header.item_id
    facts = {
        "envelope": {"version": header.version, "kind": header.kind,
                     "station_id": header.station_id, "item_id": item,
                     "capture_id": header.capture_id, "opened_as": opened.recipient_id},
        "metadata": opened.metadata,
    }
    files = {f"{item}.json": (json.dumps(facts, indent=2, ensure_ascii=False) + "\n").encode()}
    if header.kind == "capture":
        files[f"{item}.jpg"] = opened.image
        files[f"{item}.preview.jpg"] = opened.preview
    elif header.kind == "audit":
        files[f"{item}.audit.ndjson"] = opened.records
    return files


def _write_all(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clashes = [name for name in files if (out_dir / name).exists()]
    if clashes:
        raise ReceiverCommandError(f"{out_dir} already has {', '.join(sorted(clashes))}; "
                                   "nothing written (choose another --out)")
    written: list[Path] = []
    try:
        for name, data in files.items():
            target = out_dir / name
            write_durably(target, data, 0o600, replace=False, sync_dir=False)
            written.append(target)
        fsync_dir(out_dir)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ReceiverCommandError(f"cannot write to {out_dir}: {exc.strerror}; nothing "
                                   "kept") from None
    return written


def run(args: argparse.Namespace) -> int:
    keys = load_keys(args.data_dir)
    try:
        opened = open_envelope(args.file, keys.practice_private)
    except EnvelopeError as exc:
        raise ReceiverCommandError(f"refused {args.file}: {exc}; nothing written") from None
    for path in _write_all(args.out, outputs(opened)):
        print(path)
    return 0
