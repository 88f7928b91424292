"""``capture-receiver token``: a one-time enrolment token, written as a provisioning file.

The file is what IT drops on a station's boot partition (or hands to ``capture-station
enrol --provision``): the receiver's name and TLS pin, so the station can find and trust it,
and the token, which enrols exactly one station once before it expires. Only a hash of the
token is kept here, so the file itself is the secret: it is written mode 0600.

The file is a provisioning bundle (:mod:`sync.provisioning`): it also names the station's
first admin, with an Argon2id hash (``--admin-password-hash``) or a generated one-time
password that must be changed at first login. ``--qr FILE`` writes the same bundle as a QR
code (PNG) for a station to read with its camera.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from sync import provisioning as bundle_format
from websecurity.usercli import generate_password

from ..store import ReceiverStore
from ._common import ReceiverCommandError, add_data_dir, load_keys


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
    parser.add_argument("--admin", default="admin", metavar="NAME",
                        help="the station's first web UI admin (default: admin)")
    parser.add_argument("--admin-password-hash", default="", metavar="HASH",
                        help="the admin's Argon2id hash (`capture-station user hash`); "
                        "default: a one-time password, printed, changed at first login")
    parser.add_argument("--qr", type=Path, metavar="FILE",
                        help="also write the bundle as a QR code (PNG) to show the camera")
    parser.set_defaults(func=run)


def one_time_password(admin: str) -> str:
    """A generated password in the one style of both CLIs (:func:`generate_password`: groups
    from an alphabet without look-alikes) that does not contain the admin's name (an account
    rule)."""
    while True:
        password = generate_password()
        if admin.lower() not in password.lower():
            return password


def provisioning_bundle(*, receiver: str, pin: str, token: str, expires: float, room: str,
                        admin: bundle_format.Admin) -> bundle_format.Bundle:
    expires_text = dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(timespec="seconds")
    return bundle_format.Bundle(receiver_name=receiver, receiver_pin=pin, token=token,
                                expires_at=expires_text.replace("+00:00", "Z"),
                                station_name=room, admin=admin)


def provisioning_toml(*, receiver: str, pin: str, token: str, expires: float, room: str,
                      admin: bundle_format.Admin | None = None) -> str:
    admin = admin or bundle_format.Admin("admin", one_time_password=one_time_password("admin"))
    return bundle_format.to_toml(provisioning_bundle(
        receiver=receiver, pin=pin, token=token, expires=expires, room=room, admin=admin))


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise ReceiverCommandError(f"cannot write {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    if not 0 < args.hours <= 24 * 90:
        raise ReceiverCommandError("--hours must be between 0 and 2160 (90 days)")
    if len(args.name) > 64 or any(not ch.isprintable() for ch in args.name):
        raise ReceiverCommandError("--name must be at most 64 printable characters")
    keys = load_keys(args.data_dir)
    hashed = args.admin_password_hash
    admin = bundle_format.Admin(args.admin, password_hash=hashed,
                                one_time_password="" if hashed else one_time_password(args.admin))
    try:  # check the bundle before a token exists for it
        provisioning_bundle(receiver=keys.name, pin=keys.pin, token="0" * 32, expires=0,
                            room=args.name, admin=admin)
    except bundle_format.BundleError as exc:
        raise ReceiverCommandError("; ".join(exc.problems)) from None
    store = ReceiverStore(args.data_dir)
    try:
        token, expires = store.create_token(args.name, args.hours * 3600, args.require_approval)
    finally:
        store.close()
    bundle = provisioning_bundle(receiver=keys.name, pin=keys.pin, token=token,
                                 expires=expires, room=args.name, admin=admin)
    text = bundle_format.to_toml(bundle)
    if args.qr is not None:
        _write_private(args.qr, bundle_format.qr_png(bundle))
        print(f"wrote provisioning QR code {args.qr} (valid {args.hours:g} h)",
              file=sys.stderr if args.out is None else sys.stdout)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    _write_private(args.out, text.encode("utf-8"))
    print(f"wrote provisioning file {args.out} (valid {args.hours:g} h)")
    if not hashed:
        print(f"first admin {args.admin!r}, one-time password: {admin.one_time_password} "
              "(write it down: the station deletes the file, and asks for a new password "
              "at first login)")
    return 0
