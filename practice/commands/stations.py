"""``capture-receiver stations``: list enrolled stations, approve one, revoke one.

Revoking takes effect on the station's next request (the server reads the database each
time); a revoked station keeps its captures queued and delivers them if it is approved again.
"""

from __future__ import annotations

import argparse

from ..audit import PracticeAudit
from ..store import ReceiverStore, StationNotFound
from ._common import ReceiverCommandError, add_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stations", help="list, approve or revoke stations",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("action", nargs="?", default="list",
                        choices=("list", "approve", "revoke"))
    parser.add_argument("station_id", nargs="?", metavar="ID")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.data_dir / "receiver.db").exists():
        raise ReceiverCommandError(f"no receiver database in {args.data_dir}; run `init` "
                                   "and `serve` or `token` first")
    store = ReceiverStore(args.data_dir)
    try:
        if args.action == "list":
            if args.station_id:
                raise ReceiverCommandError("`stations list` takes no station id")
            rows = [("STATION", "STATUS", "NAME", "ROOM", "ENROLLED", "LAST SEEN", "QUEUE",
                     "VERSION")]
            rows += [(s.station_id, s.status, s.name, s.room, s.enrolled_at,
                      s.last_seen or "-", "-" if s.queue_depth is None else str(s.queue_depth),
                      s.version or "-") for s in store.stations()]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for row in rows:
                print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            return 0
        if not args.station_id:
            raise ReceiverCommandError(f"`stations {args.action}` needs a station id "
                                       "(see `stations list`)")
        status = "approved" if args.action == "approve" else "revoked"
        try:
            station = store.set_status(args.station_id, status)
        except StationNotFound:
            raise ReceiverCommandError(f"no station {args.station_id!r}") from None
        with PracticeAudit(args.data_dir) as audit:
            audit.record(f"station.{status}", by=None, station_id=station.station_id)
        print(f"{station.station_id} ({station.name}): {station.status}")
        return 0
    finally:
        store.close()
