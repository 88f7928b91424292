"""``capture-station document IMAGE... --out FILE.pdf``: photos of pages -> one PDF.

The station's document mode, on files: each IMAGE must show one whole page; it is found,
straightened to its real shape, turned upright and cleaned (``--mode``), and the pages are
gathered, in the order given, into one PDF. For IT (checking a camera mount, the light on
the desk) and for tests. An image with no whole page in view ends the command with exit
status 2, a message naming the file and what to change, and no PDF written; a missing or
unreadable file with exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from documents import DEFAULT_DPI, DocumentError, Mode, Page, PageNotFoundError, pages_to_pdf
from documents import scan_page as scan_page_image
from sync.durable import write_durably

from ._common import CommandError, new_command

EXIT_NO_PAGE = 2


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(
        sub, "document", "turn photos of pages into one straightened, cleaned PDF",
        "Find the page in each IMAGE, correct its perspective to the page's real shape, turn "
        "it upright, clean it (text: black and white; grey: shades kept; sketch: colour kept) "
        "and write all pages, in order, to one PDF. Exit status 2 when an image shows no "
        "whole page.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="photos of pages (JPEG, PNG, ... anything OpenCV reads)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.pdf",
                        help="where to write the PDF")
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.TEXT.value,
                        help="how pages are kept (default: text)")
    parser.add_argument("--dpi", type=float, default=DEFAULT_DPI,
                        help=f"resolution of the pages (default: {DEFAULT_DPI:g})")
    parser.add_argument("--focal-px", type=float, default=None, metavar="PIXELS",
                        help="the lens's focal length in pixels at the photos' size, when "
                        "known (default: a normal lens is assumed)")
    parser.set_defaults(func=run)


def _scan(path: Path, args: argparse.Namespace) -> Page:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"document: {path}: {exc.strerror or exc}") from None
    try:
        return scan_page_image(data, args.mode, dpi=args.dpi, focal_px=args.focal_px)
    except PageNotFoundError as exc:
        raise CommandError(f"document: {path}: {exc}", EXIT_NO_PAGE) from None
    except DocumentError as exc:
        raise CommandError(f"document: {path}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    if not 50 <= args.dpi <= 600:
        raise CommandError("document: --dpi must be between 50 and 600")
    pages = [_scan(path, args) for path in args.images]
    pdf = pages_to_pdf(pages)
    try:
        write_durably(args.out, pdf)
    except OSError as exc:
        raise CommandError(f"document: cannot write {args.out}: {exc.strerror or exc}") from None
    turned = sum(1 for p in pages if p.turns)
    print(f"wrote {len(pages)} page(s) to {args.out} ({len(pdf) // 1024} KB; "
          f"{turned} turned upright)")
    return 0
