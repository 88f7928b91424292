"""``capture-station cards --out FILE``: print the cards this station accepts, and a legend.

Command cards let staff tag a session on a station with no screen: consent level, body site,
laterality, document and end session. Only what the station's configuration allows is printed
(its body sites; the emergency-override card only where ``[workflow] emergency_override`` is
on), so a card from the sheet is never refused; the output names the config file it read. The
legend card says what each light and beep means, from the signal table. The sheet is a PDF
(A4 or Letter, labels as real text) or a PNG (one tall sheet); cut the cards apart so only one
is in view.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from barcode.commands import Command, all_commands
from barcode.sheet import CARD_SYMBOLOGIES, PAPER_MM, Legend, LegendRow, SheetError, render_sheet
from sync.durable import write_durably

from ..config import Config
from ..signals import legend_entries
from ._common import CommandError, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "cards", "print the station's command cards and a legend of its signals",
        "Write a printable sheet of the command cards this station accepts (consent levels, "
        "its [workflow] body_sites, laterality, documents, end session; the emergency-override "
        "card only when [workflow] emergency_override is on) and a legend card of what each "
        "light and beep means. The station config is read as for every command. The file "
        "type follows the name: .pdf or .png.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="where to write the sheet (.pdf or .png)")
    parser.add_argument("--symbology", choices=sorted(CARD_SYMBOLOGIES), default="qrcode",
                        help="barcode type on the cards (default: qrcode, read by both "
                        "decoders)")
    parser.add_argument("--paper", choices=sorted(PAPER_MM), default="a4",
                        help="page size of a PDF sheet (default: a4)")
    parser.add_argument("--no-legend", action="store_true",
                        help="leave out the legend card")
    parser.set_defaults(func=run)


def station_commands(cfg: Config) -> list[Command]:
    """The cards this configuration accepts, in sheet order."""
    return [c for c in all_commands(cfg.workflow.body_sites)
            if cfg.workflow.emergency_override or c.value != "emergency-override"
            or c.kind != "consent"]


def signal_legend(cfg: Config) -> Legend:
    """The legend card's rows, from the signal table; "show your badge" only where the
    station asks for an operator."""
    never = frozenset() if cfg.workflow.require_operator else frozenset({"no_operator"})
    rows = tuple(
        LegendRow(tuple(e.pattern.timeline()), tuple(255 * c for c in e.pattern.color),
                  e.pattern.repeat is None, e.meaning, e.sound)
        for e in legend_entries(never))
    return Legend(rows, note="A single LED shows the same rhythm; an RGB LED adds the colour.")


def run(args: argparse.Namespace) -> int:
    cfg = get_config(args)
    if args.symbology not in cfg.barcode.formats:
        print(f"capture-station cards: warning: [barcode] formats does not include "
              f"{args.symbology!r}; this station will not read these cards", file=sys.stderr)
    if args.symbology != "qrcode" and "zxing-cpp" not in cfg.barcode.backends:
        print(f"capture-station cards: warning: only zxing-cpp reads {args.symbology}; "
              f"[barcode] backends does not list it", file=sys.stderr)
    commands = station_commands(cfg)
    legend = None if args.no_legend else signal_legend(cfg)
    try:
        data, pages = render_sheet(args.out.suffix, commands, args.symbology, args.paper, legend)
        write_durably(args.out, data, mode=0o644)
    except SheetError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"config: {cfg.source}")
    if not cfg.workflow.emergency_override:
        print("emergency-override card left out ([workflow] emergency_override is off)")
    extra = "" if legend is None else " and a legend card"
    print(f"wrote {len(commands)} command cards{extra} on {pages} page(s) to {args.out}")
    return 0
