"""``capture-station doctor [--json]``."""

from __future__ import annotations

import argparse
import json

from .. import doctor
from ._common import get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "doctor", "check camera, GPIO, decoders, crypto, storage and enrolment",
        "Check everything the station needs; exit non-zero when something is missing.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = get_config(args)
    checks = doctor.run_checks(cfg)
    result = doctor.report(checks)
    if args.json:
        print(json.dumps({"config": cfg.source, **result}, indent=2))
    else:
        print(doctor.format_text(checks, cfg.source))
    return 0 if result["ok"] else 1
