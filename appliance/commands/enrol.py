"""``capture-station enrol [--provision FILE]``: join the practice named in a provisioning file.

Loads (or creates, first time) the station's identity key, browses mDNS for the receiver
named in the file, enrols over TLS pinned to the file's pin with the one-time token, and saves
the enrolment record (practice key, receipt key, pin). Without ``--provision`` the config's
``[sync] provision_file`` is used and, as on first boot, deleted once enrolment succeeded:
it holds a secret that is worthless afterwards. A file named explicitly is left in place.

The file is read, the receiver found and the station enrolled exactly as by
``capture-station provision`` (:mod:`appliance.provisioning`); ``enrol`` only skips the
config and the first admin.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.address import AddressError, parse_address
from sync.terminal import printable

from ..enrolment import enrolment_from_result, save_enrolment
from ..paths import StatePaths
from ._common import CommandError, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "enrol", "enrol this station with the practice receiver",
                         __doc__)
    parser.add_argument("--provision", type=Path, metavar="FILE",
                        help="provisioning file from `capture-receiver token` "
                        "(default: the config's [sync] provision_file, deleted after use)")
    add_receiver_options(parser)
    parser.set_defaults(func=run)


def _address(value: str) -> tuple[str, int]:
    try:
        return parse_address(value)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_receiver_options(parser: argparse.ArgumentParser, wait: float = 15.0) -> None:
    """``--address`` and ``--wait``: how ``enrol``, ``provision`` and ``doctor`` find the
    receiver."""
    parser.add_argument("--address", metavar="HOST:PORT", type=_address, action="append",
                        default=None, help="try this receiver address ([IPv6]:PORT for IPv6) "
                        "instead of mDNS (repeatable; the pin is still checked)")
    parser.add_argument("--wait", type=float, default=wait, metavar="SECONDS",
                        help=f"how long to browse mDNS for the receiver (default {wait:g})")


def run(args: argparse.Namespace) -> int:
    from sync.provisioning import ProvisioningError, read_toml

    from .. import provisioning as prov

    cfg = get_config(args)
    explicit = args.provision is not None
    path = args.provision if explicit else Path(cfg.sync.provision_file)
    locate = prov.receiver_locate(args.address, args.wait)
    try:
        bundle = read_toml(path)
        result = prov.enrol_station(bundle, cfg, locate(bundle, cfg))
    except ProvisioningError as exc:
        raise CommandError(str(exc)) from None
    save_enrolment(StatePaths(cfg.state_dir), enrolment_from_result(result))
    if not explicit:
        try:
            prov.remove_bundle_file(path)
        except OSError as exc:
            raise CommandError(f"enrolled as {result.station_id}, but {path} could not be "
                               f"deleted ({exc}); it holds a secret: delete it by hand") from None
    note = "" if result.status == "approved" else (
        " -- pending: captures queue until the practice admin runs `capture-receiver "
        f"stations approve {result.station_id}`")
    print(f"enrolled as {result.station_id} with receiver {printable(result.receiver_name)}"
          f"{note}")
    return 0
