"""``capture-receiver forward {status,retry,run}``: the forward queue to the PACS and EHR.

``status`` lists every queued item per destination (pending, forwarded, failed with the
reason); ``retry`` re-arms failed items once the cause is fixed; ``run`` drains the queue in
the foreground (``--once``: until nothing is due, then exit; the exit status is 1 if anything
is still pending or failed). ``serve`` runs the same forwarder in the background.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from ..forwarding.config import ForwardingConfigError, load_config
from ..forwarding.queue import ForwardQueue
from ..leftovers import remove_leftover_temps
from ._common import ReceiverCommandError, add_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("forward", help="the forward queue to the PACS (DICOMweb) and EHR "
                            "(FHIR)", description=__doc__)
    actions = parser.add_subparsers(dest="forward_command", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="items per destination and their state")
    add_data_dir(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--capture", metavar="ID", help="only this capture")
    status.set_defaults(func=run_status)
    retry = actions.add_parser("retry", help="re-arm failed items (all, or the given ids)")
    add_data_dir(retry)
    retry.add_argument("ids", nargs="*", metavar="ID", help="capture or amendment ids")
    retry.set_defaults(func=run_retry)
    drain = actions.add_parser("run", help="drain the queue in the foreground")
    add_data_dir(drain)
    drain.add_argument("--once", action="store_true",
                       help="exit when nothing is due (1 if items remain pending or failed)")
    drain.set_defaults(func=run_drain)


def open_queue(args: argparse.Namespace) -> ForwardQueue:
    if not args.data_dir.is_dir():
        raise ReceiverCommandError(f"{args.data_dir} is not a directory")
    remove_leftover_temps(args.data_dir)  # it writes beside filed captures too
    try:
        return ForwardQueue(args.data_dir, load_config(args.data_dir))
    except ForwardingConfigError as exc:
        raise ReceiverCommandError(str(exc)) from None


def run_status(args: argparse.Namespace) -> int:
    queue = open_queue(args)
    try:
        items = queue.items(args.capture)
        counts = queue.counts()
    finally:
        queue.close()
    if args.json:
        print(json.dumps({"counts": counts, "items": [i.as_dict() for i in items]}, indent=2))
        return 0
    if not queue.config.destinations:
        print("no destinations configured (see docs/forwarding.md)")
    for dest, states in sorted(counts.items()):
        print(f"{dest}: " + ", ".join(f"{n} {state}" for state, n in states.items()))
    for item in items:
        reason = f"  ({item.last_error})" if item.last_error else ""
        print(f"{item.destination:<12} {item.kind:<9} {item.item_id}  {item.state:<9} "
              f"attempts {item.attempts}{reason}")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    queue = open_queue(args)
    try:
        count = queue.retry_failed(args.ids or None)
    finally:
        queue.close()
    print(f"re-armed {count} item(s)")
    return 0


def run_drain(args: argparse.Namespace) -> int:
    # pydicom and the FHIR models weigh ~40 MB: loaded only when something is forwarded
    from ..forwarding.forwarder import Forwarder

    queue = open_queue(args)
    forwarder = Forwarder(queue)
    try:
        if args.once:
            while forwarder.drain_all():
                pass
            left = {s: sum(c.get(s, 0) for c in queue.counts().values())
                    for s in ("pending", "failed")}
            print(f"forwarded; {left['pending']} pending, {left['failed']} failed")
            return 1 if any(left.values()) else 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        forwarder.start()
        print("forwarding; stop with Ctrl-C", flush=True)
        stop.wait()
        return 0
    finally:
        forwarder.stop()
        queue.close()
