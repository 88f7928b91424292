"""``capture-station doctor [--json] [--address HOST:PORT] [--wait S] [--offline]``."""

from __future__ import annotations

import argparse
import json

from .. import doctor
from ..config import ConfigError
from ._common import CommandError, get_config, new_command
from .enrol import add_receiver_options


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "doctor", "check camera, GPIO, decoders, crypto, storage, enrolment and receiver",
        "Check everything the station needs, the receiver included (found over mDNS, TLS "
        "handshake, pin); exit non-zero when something is missing. Run it as the station's "
        "user (sudo -u capture-station capture-station doctor): the state directory is "
        "readable by that user only.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_receiver_options(parser, wait=5.0)
    parser.add_argument("--offline", action="store_true",
                        help="skip the receiver check (no network traffic)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = get_config(args)
    except ConfigError as exc:
        if any("Permission denied" in p for p in exc.problems):
            raise CommandError(
                f"cannot read the station config {exc.source} as this user; run it as the "
                f"station's user: sudo -u {doctor.SERVICE_USER} {doctor.program_path()} doctor",
                exit_code=2) from None
        raise
    probe = doctor.ReceiverProbe(addresses=tuple(args.address or ()), wait=args.wait)
    checks = doctor.run_checks(cfg, probe, network=not args.offline)
    result = doctor.report(checks)
    if args.json:
        print(json.dumps({"config": cfg.source, **result}, indent=2))
    else:
        print(doctor.format_text(checks, cfg.source))
    return 0 if result["ok"] else 1


