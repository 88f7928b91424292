"""``capture-receiver token``: a one-time enrolment token, written as a provisioning file.

The file is what IT drops on a station's boot partition (or hands to ``capture-station
enrol --provision``): the receiver's name and TLS pin, so the station can find and trust it,
and the token, which enrols exactly one station once before it expires. Only a hash of the
token is kept here, so the file itself is the secret: it is written mode 0600.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from ..receiver_cli import ReceiverCommandError
from ..receiver_store import ReceiverStore
from ._common import add_data_dir, load_keys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("token", help="issue a one-time enrolment token (provisioning TOML)",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("--name", default="", metavar="ROOM",
                        help="the room or station this token is for (shown in `stations`)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="write the provisioning file here (default: standard output)")
    parser.add_argument("--hours", type=float, default=72.0,
                        help="how long the token stays valid (default 72)")
    parser.add_argument("--require-approval", action="store_true",
                        help="the station stays 'pending' until `stations approve`")
    parser.set_defaults(func=run)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def provisioning_toml(*, receiver: str, pin: str, token: str, expires: float, room: str) -> str:
    expires_text = dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(timespec="seconds")
    lines = [
        "# capture-station provisioning file: enrols ONE station once, then is useless.",
        "# Keep it secret until used; the station deletes it after enrolling.",
        "version = 1",
        "",
        "[sync]",
        f"receiver_name = {_toml_string(receiver)}",
        f"receiver_pin = {_toml_string(pin)}",
        "",
        "[enrolment]",
        f"token = {_toml_string(token)}",
        f"expires_at = {_toml_string(expires_text.replace('+00:00', 'Z'))}",
    ]
    if room:
        lines.append(f"station_name = {_toml_string(room)}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if not 0 < args.hours <= 24 * 90:
        raise ReceiverCommandError("--hours must be between 0 and 2160 (90 days)")
    if len(args.name) > 64 or any(not ch.isprintable() for ch in args.name):
        raise ReceiverCommandError("--name must be at most 64 printable characters")
    keys = load_keys(args.data_dir)
    store = ReceiverStore(args.data_dir)
    try:
        token, expires = store.create_token(args.name, args.hours * 3600, args.require_approval)
    finally:
        store.close()
    text = provisioning_toml(receiver=keys.name, pin=keys.pin, token=token, expires=expires,
                             room=args.name)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ReceiverCommandError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote provisioning file {args.out} (valid {args.hours:g} h)")
    return 0
