"""``capture-receiver stations``: list enrolled stations and issued tokens, approve or revoke a
station.

A station is named by its id (``st-`` and 24 hex digits), a unique prefix of it, or its name as
`stations list` shows it. Revoking takes effect on the station's next request (the server reads
the database each time); a revoked station keeps its captures queued and delivers them if it is
approved again.
"""

from __future__ import annotations

import argparse
import datetime as dt

from sync.terminal import printable

from ..audit import PracticeAudit
from ..store import IssuedToken, ReceiverStore, Station, StationNotFound
from ._common import ReceiverCommandError, add_data_dir

#: The fewest characters of an id (after ``st-``) accepted as a prefix: fewer would match by
#: accident as soon as a practice has a handful of stations.
MIN_PREFIX = 4


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stations", help="list, approve or revoke stations",
                            description=__doc__)
    add_data_dir(parser)
    parser.add_argument("action", nargs="?", default="list",
                        choices=("list", "approve", "revoke"))
    parser.add_argument("station", nargs="?", metavar="STATION",
                        help="station id, a unique prefix of it, or the station's name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.data_dir / "receiver.db").exists():
        raise ReceiverCommandError(f"no receiver database in {args.data_dir}; run `init` "
                                   "and `serve` or `token` first")
    store = ReceiverStore(args.data_dir)
    try:
        if args.action == "list":
            if args.station:
                raise ReceiverCommandError("`stations list` takes no station")
            print(format_listing(store.stations(), store.issued_tokens()))
            return 0
        if not args.station:
            raise ReceiverCommandError(f"`stations {args.action}` needs a station id or name "
                                       "(see `capture-receiver stations list`)")
        station = resolve_station(store.stations(), args.station)
        status = "approved" if args.action == "approve" else "revoked"
        try:
            station = store.set_status(station.station_id, status)
        except StationNotFound:  # removed between the lookup and the update
            raise ReceiverCommandError(_not_found(args.station)) from None
        with PracticeAudit(args.data_dir) as audit:
            audit.record(f"station.{status}", by=None, station_id=station.station_id)
        print(f"{station.station_id} ({printable(station.name)}): {station.status}")
        return 0
    finally:
        store.close()


def _not_found(wanted: str) -> str:
    return (f"no station {printable(wanted)!r}; `capture-receiver stations list` shows the "
            "enrolled stations")


def resolve_station(stations: list[Station], wanted: str) -> Station:
    """The one station ``wanted`` names: its id, its name, or a unique prefix of its id
    (with or without ``st-``); a :class:`ReceiverCommandError` listing the candidates when
    more than one fits, or pointing to `list` when none does."""
    exact = [s for s in stations if s.station_id == wanted]
    if exact:
        return exact[0]
    by_name = [s for s in stations if s.name == wanted]
    if not by_name:
        key = wanted.lower()
        key = key if key.startswith("st-") else "st-" + key
        if len(key) - 3 >= MIN_PREFIX:
            by_name = [s for s in stations if s.station_id.startswith(key)]
        elif any(s.station_id.startswith(key) for s in stations):
            raise ReceiverCommandError(f"{printable(wanted)!r} is too short: give at least "
                                       f"{MIN_PREFIX} characters of the station id")
    if len(by_name) == 1:
        return by_name[0]
    if not by_name:
        raise ReceiverCommandError(_not_found(wanted))
    candidates = "\n".join(f"  {s.station_id}  {printable(s.name)}  ({s.status})"
                           for s in by_name)
    raise ReceiverCommandError(f"{printable(wanted)!r} fits {len(by_name)} stations; name one "
                               f"by its id:\n{candidates}")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _name(station: Station) -> str:
    """The station's name; the token's room after it only when the two differ."""
    if station.room and station.room != station.name:
        return f"{printable(station.name)} (token: {printable(station.room)})"
    return printable(station.name) or "-"


def _expiry(token: IssuedToken) -> str:
    when = dt.datetime.fromtimestamp(token.expires_at, dt.UTC)
    return when.isoformat(timespec="minutes").replace("+00:00", "Z")


def format_listing(stations: list[Station], tokens: list[IssuedToken]) -> str:
    """Enrolled stations, then tokens still waiting for a station; every string a station
    chose (name, version) is escaped for the terminal."""
    lines: list[str] = []
    if stations:
        lines += _table([("STATION", "STATUS", "NAME", "ENROLLED", "LAST SEEN", "QUEUE",
                          "VERSION")] + [
            (s.station_id, s.status, _name(s), s.enrolled_at, s.last_seen or "-",
             "-" if s.queue_depth is None else str(s.queue_depth),
             printable(s.version) if s.version else "-") for s in stations])
    else:
        lines.append("no station enrolled yet (`capture-receiver token --name ROOM --out FILE` "
                     "makes a provisioning file for one)")
    if tokens:
        lines += ["", f"issued tokens not used yet ({len(tokens)}):"]
        lines += _table([("ROOM", "ISSUED", "EXPIRES", "APPROVAL")] + [
            (printable(t.room) or "-", t.created_at, _expiry(t),
             "required" if t.require_approval else "-") for t in tokens])
    return "\n".join(lines)
