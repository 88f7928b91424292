"""``capture-station provision [--file PATH | --scan]``: apply a provisioning bundle once.

Run at first boot by ``capture-station-provision.service`` when the file is on the boot
partition. It validates the bundle, writes the station config, enrols with the practice
receiver, creates the first admin and deletes the file -- or, on any failure, keeps nothing
but the file and says what to fix. ``--scan`` reads the same bundle from a QR code shown to
the camera (``capture-receiver token --qr``) when the station is not running; a running,
unenrolled station spools the QR bundle it sees to /run/capture-station/, and
``capture-station-provision.path`` starts this command for it.

``--config PATH`` names the station config to write; it need not exist yet (provisioning is
what writes it). If it exists, its settings are kept and the bundle's added.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config, load_config
from ._common import CommandError, new_command
from .enrol import add_receiver_options


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "provision", "apply a provisioning file or QR code (first boot)",
                         __doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", type=Path, metavar="PATH",
                        help="the provisioning file (default: the config's [sync] "
                        "provision_file; else /boot/capture-station.toml on older systems, or "
                        "the bundle the running station read from a QR code, "
                        "/run/capture-station/capture-station.toml)")
    source.add_argument("--scan", action="store_true",
                        help="read the bundle from a QR code shown to the camera")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="with --scan: how long to watch for the QR code (default 300)")
    add_receiver_options(parser)
    parser.set_defaults(func=run)


def existing_or_defaults(config_path: Path) -> Config:
    """The config provisioning starts from: the file if there is one, else the defaults
    (with the environment's variables, as always)."""
    return load_config(config_path, required=False)


def run(args: argparse.Namespace) -> int:
    from .. import provisioning as prov

    config_path = prov.config_path_for(args.config)
    cfg = existing_or_defaults(config_path)
    locate = prov.receiver_locate(args.address, args.wait)
    try:
        if args.scan:
            from ..hardware import build_camera

            camera = build_camera(cfg)
            print(f"show the provisioning QR code to the camera (waiting {args.timeout:g} s)")
            try:
                outcome = prov.provision_from_camera(camera, config_path, locate=locate,
                                                     timeout=args.timeout)
            finally:
                camera.close()
            if outcome is None:
                raise CommandError("no provisioning QR code was seen; make one with "
                                   "`capture-receiver token --qr FILE`")
            source = "the QR code"
        else:
            path = args.file or prov.default_bundle_path(cfg)
            try:
                outcome = prov.provision_file(path, config_path, locate=locate)
            except prov.ProvisioningError:
                if path == prov.QR_SPOOL:  # a copy of a QR code: show the code again instead
                    path.unlink(missing_ok=True)
                raise
            source = f"{path} (deleted)"
    except prov.ProvisioningError as exc:
        raise CommandError(f"provisioning failed: {exc}") from None
    note = ("" if outcome.status == "approved" else
            "; pending: captures queue until the practice admin runs `capture-receiver "
            f"stations approve {outcome.station_id}`")
    print(f"provisioned from {source}: station {outcome.station_name!r} enrolled as "
          f"{outcome.station_id} with receiver {outcome.receiver_name!r}{note}; admin "
          f"{outcome.admin_name!r} created; config written to {outcome.config_path}")
    return 0
