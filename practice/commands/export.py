"""``capture-receiver export --capture ID --format dicom|fhir --out PATH``: what would be sent.

Writes the DICOM instance (a Part 10 file) or the FHIR resource (JSON) of one filed capture,
built exactly as the forwarder builds it, with every amendment filed so far applied (the
current version; a retracted capture gives its rejection note, or its ``entered-in-error``
resource). For checking a PACS or EHR mapping by hand, and for dciodvfy. The file is mode
0600 (it holds patient data); an existing file is never overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.durable import write_durably

from ..forwarding.config import ForwardingConfigError, load_config
from ..forwarding.filed import FiledError, find_capture, load_filed
from ._common import ReceiverCommandError, add_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write the DICOM or FHIR a capture is forwarded as",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("--capture", required=True, metavar="ID", help="the capture id")
    parser.add_argument("--format", required=True, choices=("dicom", "fhir"))
    parser.add_argument("--out", required=True, type=Path, metavar="PATH",
                        help="file to write (must not exist)")
    parser.set_defaults(func=run)


def render(data_dir: Path, capture_id: str, fmt: str) -> bytes:
    """The bytes ``export`` writes (ReceiverCommandError when it cannot be built)."""
    # pydicom and the FHIR models weigh ~40 MB: only the commands that build objects load them
    from ..forwarding import dicom, fhir
    from ..forwarding.delivery import site_for

    try:
        config = load_config(data_dir)
        capture = load_filed(data_dir, find_capture(data_dir, capture_id))
        if fmt == "fhir":
            resource = fhir.resource_for(capture, sop_instance_uid=dicom.instance_uid_of(capture))
            return fhir.to_json(resource) + b"\n"
        site = site_for(config)
        if capture.retraction is not None:
            return dicom.to_bytes(dicom.retraction_note(capture, site))
        return dicom.to_bytes(dicom.current_instance(capture, site))
    except (ForwardingConfigError, FiledError, dicom.DicomBuildError,
            fhir.FhirBuildError) as exc:
        raise ReceiverCommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    data = render(args.data_dir, args.capture, args.format)
    try:
        write_durably(args.out, data, 0o600, replace=False)
    except FileExistsError:
        raise ReceiverCommandError(f"{args.out} exists; nothing written") from None
    except OSError as exc:
        raise ReceiverCommandError(f"cannot write {args.out}: {exc.strerror}") from None
    print(args.out)
    return 0
