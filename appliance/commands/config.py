"""``capture-station config {check,show,sample}``: validate, inspect and document settings."""

from __future__ import annotations

import argparse

from ..sample_config import render_sample, toml_value
from ._common import get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "config", "check, show or print a sample of the configuration")
    parser.add_argument("action", choices=("check", "show", "sample"),
                        help="check: validate and exit 0/2; show: effective values (defaults, "
                        "file, environment); sample: a commented sample file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "sample":
        print(render_sample(), end="")
        return 0
    cfg = get_config(args)
    if args.action == "check":
        print(f"configuration ok: {cfg.source}")
        return 0
    print(f"# effective configuration from {cfg.source}")
    for section, values in cfg.as_dict().items():
        print(f"\n[{section}]")
        for key, value in values.items():
            if key == "local_formats":
                for entry in value:
                    print(f"# local format: {entry}")
                continue
            print(f"{key} = {toml_value(value)}")
    return 0
