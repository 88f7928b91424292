"""``capture-receiver serve``: the HTTPS endpoint, its mDNS advertisement and the practice UI.

The receiver (stations deliver to ``--port``) and the patient-file web UI (clinicians sign in
on ``--ui-port``, default 8445; ``--no-ui`` leaves it off) run in one process over the
receiver's own certificate, sharing one patient-file index. The UI has no default account:
make the first admin with ``capture-receiver user add --role admin``. Times are shown in
``--time-zone`` (an IANA name; default: this machine's zone).

While its disk is full (less than ``--reserve-mb`` free beyond an upload) uploads get ``503``
with ``Retry-After`` and the mDNS record says ``state=full``; a check every few seconds turns
it back to ``state=accepting`` once space is freed, which wakes the stations at once.

Runs in the foreground (systemd ``Type=simple``); SIGTERM or Ctrl-C stops it cleanly: the
advertisement is withdrawn first (stations stop choosing this address), then in-flight
requests finish and the listeners close.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives import serialization

from sync.discovery import Advertiser
from sync.protocol import MAX_ITEM_BYTES
from websecurity.certificates import format_fingerprint
from websecurity.https_server import HttpsServer

from ..accounts import open_accounts
from ..audit import PracticeAudit
from ..capacity import DEFAULT_RESERVE_BYTES, Capacity
from ..forwarding.config import ForwardingConfigError, load_config
from ..forwarding.queue import ForwardQueue
from ..keys import ReceiverKeys
from ..patientfile import PatientIndex
from ..receiver_api import ReceiverApp
from ..store import ReceiverStore
from ..web.app import create_app
from ._common import ReceiverCommandError, add_data_dir, load_keys

DEFAULT_PORT = 8444
DEFAULT_UI_PORT = 8445
#: How often a full receiver looks whether space was freed.
CAPACITY_CHECK_SECONDS = 5.0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="accept captures over HTTPS and advertise over mDNS",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("--host", default="0.0.0.0",  # noqa: S104 - a LAN service by design
                        help="address to listen on (default: all)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"HTTPS port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--mdns-interface", action="append", default=None, metavar="ADDR",
                        help="IPv4 address to advertise on and from (repeatable; default: all)")
    parser.add_argument("--no-mdns", action="store_true",
                        help="do not advertise (stations then need a fixed address)")
    parser.add_argument("--max-item-mb", type=int, default=MAX_ITEM_BYTES // (1024 * 1024),
                        help="largest sealed item accepted, in MiB")
    parser.add_argument("--threads", type=int, default=8, help="request worker threads")
    parser.add_argument("--reserve-mb", type=int, default=DEFAULT_RESERVE_BYTES >> 20,
                        help="free space kept beyond an upload; below it uploads get 503 "
                             "(default %(default)s)")
    parser.add_argument("--ui-port", type=int, default=DEFAULT_UI_PORT,
                        help=f"HTTPS port of the practice UI (default {DEFAULT_UI_PORT}; 0 picks "
                             "a free one)")
    parser.add_argument("--ui-host", default=None,
                        help="address the practice UI listens on (default: as --host)")
    parser.add_argument("--no-ui", action="store_true", help="do not serve the practice UI")
    parser.add_argument("--time-zone", default=None, metavar="ZONE",
                        help="the practice's time zone for the UI, e.g. Europe/Berlin "
                             "(default: this machine's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    keys = load_keys(args.data_dir).renewed()  # a certificate near expiry: re-issued, same key
    tz = practice_time_zone(args.time_zone)
    try:
        forwarding = load_config(args.data_dir)  # checked before anything listens
    except ForwardingConfigError as exc:
        raise ReceiverCommandError(str(exc)) from None
    store = ReceiverStore(args.data_dir)
    index = PatientIndex(args.data_dir)
    queue = ForwardQueue(args.data_dir, forwarding) if forwarding.destinations else None
    forwarder = None
    if queue is not None:  # pydicom and the FHIR models (~40 MB) only when forwarding
        from ..forwarding.forwarder import Forwarder

        forwarder = Forwarder(queue)
    announce: dict[str, Advertiser] = {}

    def on_capacity(accepting: bool) -> None:
        if "mdns" in announce:
            announce["mdns"].set_accepting(accepting, capacity.retry_after_seconds)

    capacity = Capacity(args.data_dir, reserve_bytes=max(args.reserve_mb, 0) << 20,
                        on_change=on_capacity)
    app = ReceiverApp(args.data_dir, keys, store, max_item_bytes=args.max_item_mb << 20,
                      index=index, forward_queue=queue, capacity=capacity)
    server = HttpsServer(app, host=args.host, port=args.port, cert_path=keys.tls_cert_path,
                         key_path=keys.tls_key_path, threads=args.threads)
    ui = None if args.no_ui else practice_ui(args, keys, store, index, tz)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    started: list[HttpsServer] = []
    advertiser = None
    try:
        for each, host, port in ((server, args.host, args.port),
                                 *(((ui, args.ui_host or args.host, args.ui_port),)
                                   if ui else ())):
            try:
                started.append(each.start())
            except OSError as exc:
                raise ReceiverCommandError(f"cannot listen on {host}:{port}: {exc}") from None
        if forwarder is not None:
            forwarder.start()  # one thread per destination; drains what earlier runs queued
        if not args.no_mdns:
            advertiser = Advertiser(keys.name, server.port, keys.pin,
                                    interfaces=args.mdns_interface)
            announce["mdns"] = advertiser
        print(f"capture-receiver {keys.name}: listening on {server.host}:{server.port} "
              f"pin {keys.pin}", flush=True)
        if ui is not None:
            print(f"practice UI: {ui_url(ui)} certificate {keys_fingerprint(keys)}", flush=True)
        while not stop.wait(CAPACITY_CHECK_SECONDS):
            capacity.check()  # full -> accepting once space is freed (announced over mDNS)
    finally:
        if advertiser is not None:
            advertiser.close()
        for each in reversed(started):
            each.stop()
        if forwarder is not None:
            forwarder.stop()
        if queue is not None:
            queue.close()
        index.close()
        store.close()
    return 0


def practice_time_zone(name: str | None) -> dt.tzinfo:
    """The zone the UI shows times in: ``name`` (IANA), else this machine's local zone."""
    if not name:
        return dt.datetime.now().astimezone().tzinfo or dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReceiverCommandError(f"unknown time zone {name!r} (use an IANA name such as "
                                   "Europe/Berlin)") from None


def practice_ui(args: argparse.Namespace, keys: ReceiverKeys, store: ReceiverStore,
                index: PatientIndex, tz: dt.tzinfo) -> HttpsServer:
    """The practice UI's (not yet started) HTTPS server, on the receiver's certificate."""
    app = create_app(index=index, stations=store, accounts=open_accounts(args.data_dir),
                     audit=PracticeAudit(args.data_dir), tz=tz, practice_name=keys.name)
    return HttpsServer(app, host=args.ui_host or args.host, port=args.ui_port,
                       cert_path=keys.tls_cert_path, key_path=keys.tls_key_path,
                       threads=args.threads)


def ui_url(server: HttpsServer) -> str:
    host = server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a display choice, not a bind
        host = "127.0.0.1"
    return f"https://{f'[{host}]' if ':' in host else host}:{server.port}/"


def keys_fingerprint(keys: ReceiverKeys) -> str:
    """What IT compares with the browser's certificate view (SHA-256 of the certificate)."""
    return format_fingerprint(keys.tls_certificate.public_bytes(serialization.Encoding.DER))
