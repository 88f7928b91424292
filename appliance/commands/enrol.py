"""``capture-station enrol [--provision FILE]``: join the practice named in a provisioning file.

Loads (or creates, first time) the station's identity key, browses mDNS for the receiver
named in the file, enrols over TLS pinned to the file's pin with the one-time token, and saves
the enrolment record (practice key, receipt key, pin). Without ``--provision`` the config's
``[sync] provision_file`` is used and, as on first boot, deleted once enrolment succeeded:
it holds a secret that is worthless afterwards. A file named explicitly is left in place.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..enrolment import enrolment_from_result, save_enrolment
from ..paths import StatePaths
from ._common import CommandError, get_config, new_command

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "enrol", "enrol this station with the practice receiver",
                         __doc__)
    parser.add_argument("--provision", type=Path, metavar="FILE",
                        help="provisioning file from `capture-receiver token` "
                        "(default: the config's [sync] provision_file, deleted after use)")
    parser.add_argument("--address", metavar="HOST:PORT", action="append", default=None,
                        help="try this receiver address instead of mDNS (repeatable; the pin "
                        "is still checked)")
    parser.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                        help="how long to browse mDNS for the receiver (default 15)")
    parser.set_defaults(func=run)


def _addresses(values: list[str]) -> list[tuple[str, int]]:
    result = []
    for value in values:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(f"--address {value!r} is not HOST:PORT")
        result.append((host, int(port)))
    return result


def run(args: argparse.Namespace) -> int:
    from sync.enrol import EnrolError, ProvisioningError, enrol, parse_provisioning
    from sync.uploader import MdnsLocator

    from ..vault.keys import load_or_create_identity

    cfg = get_config(args)
    explicit = args.provision is not None
    path = args.provision if explicit else Path(cfg.sync.provision_file)
    try:
        provisioning = parse_provisioning(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"no provisioning file at {path}; make one with `capture-receiver "
                           "token --out FILE` on the practice server") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    except ProvisioningError as exc:
        raise CommandError(f"{path}: {exc}") from None

    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    key = load_or_create_identity(paths).private_key

    def audit(event: str, details: dict) -> None:
        log.warning("%s %s", event, {k: v for k, v in details.items() if k != "token"})

    if args.address:
        addresses = _addresses(args.address)
    else:
        locator = MdnsLocator(provisioning.receiver_name, provisioning.receiver_pin,
                              interfaces=cfg.sync.interfaces or None)
        try:
            locator.browser.wait_for(name=provisioning.receiver_name,
                                     pin=provisioning.receiver_pin, timeout=args.wait)
            addresses = locator.addresses()
        finally:
            locator.close()
    try:
        result = enrol(key, provisioning, addresses,
                       station_name=provisioning.station_name or cfg.station.name, audit=audit)
    except EnrolError as exc:
        raise CommandError(str(exc)) from None
    save_enrolment(paths, enrolment_from_result(result))
    if not explicit:
        path.unlink(missing_ok=True)
    note = "" if result.status == "approved" else (
        " -- pending: captures queue until the practice admin runs `capture-receiver "
        f"stations approve {result.station_id}`")
    print(f"enrolled as {result.station_id} with receiver {result.receiver_name}{note}")
    return 0
