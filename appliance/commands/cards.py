"""``capture-station cards --out FILE``: print the station's command cards.

Command cards let staff tag a session on a station with no screen: consent level, body site
(from ``[workflow] body_sites``), laterality and end session. The sheet is a PDF (paginated
on A4 or Letter) or a PNG (one tall sheet); cut the cards apart so only one is in view.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from barcode.commands import all_commands
from barcode.sheet import CARD_SYMBOLOGIES, PAPER_INCHES, SheetError, write_sheet

from ._common import CommandError, get_config, new_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "cards", "print command cards (consent, body site, laterality, end session)",
        "Write a printable sheet of command cards: consent level, body site (from [workflow] "
        "body_sites), laterality and end session. The file type follows the name: .pdf or "
        ".png.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="where to write the sheet (.pdf or .png)")
    parser.add_argument("--symbology", choices=sorted(CARD_SYMBOLOGIES), default="qrcode",
                        help="barcode type on the cards (default: qrcode, read by both "
                        "decoders)")
    parser.add_argument("--paper", choices=sorted(PAPER_INCHES), default="a4",
                        help="page size of a PDF sheet (default: a4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = get_config(args)
    if args.symbology not in cfg.barcode.formats:
        print(f"capture-station cards: warning: [barcode] formats does not include "
              f"{args.symbology!r}; this station will not read these cards", file=sys.stderr)
    if args.symbology != "qrcode" and "zxing-cpp" not in cfg.barcode.backends:
        print(f"capture-station cards: warning: only zxing-cpp reads {args.symbology}; "
              f"[barcode] backends does not list it", file=sys.stderr)
    commands = all_commands(cfg.workflow.body_sites)
    try:
        pages = write_sheet(args.out, commands, args.symbology, args.paper)
    except SheetError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {len(commands)} command cards on {pages} page(s) to {args.out}")
    return 0
