"""``capture-receiver serve``: the HTTPS endpoint plus its mDNS advertisement, until stopped.

Runs in the foreground (systemd ``Type=simple``); SIGTERM or Ctrl-C stops it cleanly: the
advertisement is withdrawn first (stations stop choosing this address), then in-flight
requests finish and the listener closes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from sync.discovery import Advertiser
from sync.protocol import MAX_ITEM_BYTES
from websecurity.https_server import HttpsServer

from ..receiver_api import ReceiverApp
from ..store import ReceiverStore
from ._common import ReceiverCommandError, add_data_dir, load_keys

DEFAULT_PORT = 8444


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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    keys = load_keys(args.data_dir)
    store = ReceiverStore(args.data_dir)
    app = ReceiverApp(args.data_dir, keys, store, max_item_bytes=args.max_item_mb << 20)
    server = HttpsServer(app, host=args.host, port=args.port, cert_path=keys.tls_cert_path,
                         key_path=keys.tls_key_path, threads=args.threads)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except OSError as exc:
        store.close()
        raise ReceiverCommandError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    advertiser = None
    try:
        if not args.no_mdns:
            advertiser = Advertiser(keys.name, server.port, keys.pin,
                                    interfaces=args.mdns_interface)
        print(f"capture-receiver {keys.name}: listening on {server.host}:{server.port} "
              f"pin {keys.pin}", flush=True)
        stop.wait()
    finally:
        if advertiser is not None:
            advertiser.close()
        server.stop()
        store.close()
    return 0
