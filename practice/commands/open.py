"""``capture-receiver open``: verify and open one sealed file with the practice key, by hand.

For IT and for audits: check a ``.sealed`` file, say which station made it, and write what it
holds. The station's signature is verified with the key registered here for the station the
file's header names (an unknown or revoked station is refused); for a file from elsewhere,
``--station-key FILE`` gives that station's Ed25519 public key as its raw 32 bytes in base64
(RFC 4648, padded: the form a station sends when it enrols), one line. The file names a
station id and verifies only with the key whose id that is.

A capture gives ``<id>.jpg``, ``<id>.preview.jpg`` and ``<id>.json`` (metadata plus the
envelope facts); an amendment gives ``<id>.json``; an audit batch gives ``<id>.json`` and
``<id>.audit.ndjson``. Parts stream to their files in bounded memory. A forged, tampered,
truncated or wrongly addressed file is refused with the reason, and then nothing at all is
written; existing files are never overwritten. Outputs are mode 0600 (patient data).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.durable import write_durably
from sync.envelope import EnvelopeError, Header, Opened, read_header, station_of
from sync.terminal import printable

from ..intake import open_to_files
from ..payload import ContentRefused
from ..store import ReceiverStore
from ._common import ReceiverCommandError, add_data_dir, load_keys

#: Output file suffix for each part that is written besides the JSON.
PART_FILES = {"image": ".jpg", "preview": ".preview.jpg", "pdf": ".pdf",
              "records": ".audit.ndjson"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("open", help="verify and open one .sealed file with the practice key",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("file", type=Path, metavar="FILE.sealed", help="the sealed file")
    parser.add_argument("--out", type=Path, required=True, metavar="OUTDIR",
                        help="directory for the opened files (created if missing)")
    parser.add_argument("--station-key", type=Path, metavar="FILE",
                        help="the making station's Ed25519 public key, raw 32 bytes in base64, "
                        "for a station not registered here")
    parser.set_defaults(func=run)


def load_station_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a file holding its raw 32 bytes in padded base64."""
    try:
        text = path.read_text(encoding="ascii").strip()
        raw = base64.b64decode(text, validate=True)
    except OSError as exc:
        raise ReceiverCommandError(f"cannot read {path}: {exc.strerror}; nothing "
                                   "written") from None
    except (UnicodeDecodeError, binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ReceiverCommandError(f"{path} is not an Ed25519 public key (raw 32 bytes in "
                                   "base64, one line); nothing written")
    return Ed25519PublicKey.from_public_bytes(raw)


def station_for(data_dir: Path, header: Header,
                key_file: Path | None) -> tuple[Ed25519PublicKey, str]:
    """The key to verify ``header``'s file with, and the station's display name."""
    store = ReceiverStore(data_dir)
    try:
        station = store.station(header.station_id)
    finally:
        store.close()
    if key_file is not None:
        key = load_station_key(key_file)
        if station_of(key) != header.station_id:
            raise ReceiverCommandError(
                f"the file names station {header.station_id}; the key in {key_file} is of "
                f"station {station_of(key)}; nothing written")
        return key, station.name if station else "not registered here"
    if station is None:
        raise ReceiverCommandError(
            f"the file names station {header.station_id}, which is not registered here; give "
            "its public key with --station-key FILE; nothing written")
    if station.status == "revoked":
        raise ReceiverCommandError(
            f"station {header.station_id} ({station.name}) is revoked here; if you trust the "
            "file, give the key with --station-key FILE; nothing written")
    return Ed25519PublicKey.from_public_bytes(station.public_key), station.name


def facts(opened: Opened, station_name: str) -> bytes:
    """The ``<id>.json`` output: what the envelope says, who made it, the metadata."""
    header = opened.header
    record = {
        "envelope": {"version": 2, "kind": header.kind, "station_id": header.station_id,
                     "item_id": header.item_id, "capture_id": header.capture_id,
                     "opened_as": opened.kid},
        "station": {"station_id": header.station_id, "name": station_name,
                    "signature": "verified"},
        "metadata": opened.metadata,
    }
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()


def run(args: argparse.Namespace) -> int:
    keys = load_keys(args.data_dir)
    try:
        header = read_header(args.file)
    except EnvelopeError as exc:
        raise ReceiverCommandError(f"refused {args.file}: {exc}; nothing written") from None
    station_key, station_name = station_for(args.data_dir, header, args.station_key)
    item = header.item_id
    targets = {name: args.out / f"{item}{PART_FILES[name]}"
               for name, _length in header.parts[1:] if name in PART_FILES}
    json_path = args.out / f"{item}.json"
    clashes = [p.name for p in (json_path, *targets.values()) if p.exists()]
    if clashes:
        raise ReceiverCommandError(f"{args.out} already has {', '.join(sorted(clashes))}; "
                                   "nothing written (choose another --out)")
    args.out.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        result = open_to_files(args.file, targets, keys.practice_private, station_key,
                               mode=0o600, replace=False)
    except (EnvelopeError, ContentRefused) as exc:
        raise ReceiverCommandError(f"refused {args.file}: {exc}; nothing written") from None
    except OSError as exc:
        raise ReceiverCommandError(f"cannot write to {args.out}: {exc.strerror}; nothing "
                                   "kept") from None
    try:
        write_durably(json_path, facts(result.opened, station_name), 0o600, replace=False)
    except OSError as exc:
        for path in targets.values():
            path.unlink(missing_ok=True)
        raise ReceiverCommandError(f"cannot write to {args.out}: {exc.strerror}; nothing "
                                   "kept") from None
    print(f"made by station {header.station_id} ({printable(station_name)}); signature "
          "verified")
    for path in (*targets.values(), json_path):
        print(path)
    return 0
