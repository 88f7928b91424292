"""What both command lines print to a terminal: untrusted text made inert, and a quiet end
when the reader of a pipe goes away.

A station chooses its own name at enrolment, reports its own version, and a barcode carries
whatever its printer put in it. Printed raw, an escape sequence in such a string can move the
cursor, rewrite earlier lines, retitle the window or hide text from the person reading it.
:func:`printable` shows every character that is not printable as a visible escape
(``\\x1b``, ``\\u202e``), so a hostile string reads as what it is. Both CLIs import it from
here (sync/ is what the station and the practice server share).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` with every non-printable character (C0/C1 controls, DEL, bidi overrides,
    line and paragraph separators, ...) written as a backslash escape; a backslash itself is
    doubled, so an escape in the output is never ambiguous. Ordinary letters of any script
    and the plain space are kept."""
    value = str(text)
    if value.isprintable() and "\\" not in value:
        return value
    return "".join("\\\\" if ch == "\\" else ch if ch.isprintable() else _escape(ch)
                   for ch in value)


def quiet_broken_pipe(main: Callable[[], T]) -> T | int:
    """Run ``main``; if the reader of stdout went away (``config show | head``), end without
    a traceback, as the Python documentation recommends: point stdout at /dev/null so the
    interpreter's final flush cannot fail again, and return 141 (128 + SIGPIPE), the status a
    shell shows for a command ended by a closed pipe."""
    try:
        try:
            return main()
        finally:  # also after argparse's SystemExit: its help text may still be buffered
            sys.stdout.flush()
    except BrokenPipeError:
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # stdout replaced by a non-file
            return 141
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
        return 141


_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj|ref|doc|py:\w+):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(doc: str) -> str:
    """A docstring as a terminal reads it: ``:mod:`a.b``` and ``:func:`~x.y``` become their
    names, double-backtick literals single-backtick ones, and ``::`` ends a sentence with one
    colon. The CLIs use module docstrings as their ``--help`` descriptions, so the text is
    written once; this is what keeps reStructuredText out of the help."""
    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        shown = match.group(0).split("`", 1)[1].startswith("~")
        return target.rsplit(".", 1)[-1] if shown else target

    text = _ROLE.sub(role, doc)
    text = _LITERAL.sub(r"`\1`", text)
    return re.sub(r"(?<=\S)::(?=\s|$)", ":", text)


class ParagraphHelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but blank lines separate paragraphs, an indented block (an
    example) is kept as written, and a line never breaks inside a hyphenated command name
    (``capture-station``), so a multi-paragraph docstring stays readable."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in textwrap.dedent(text).strip().split("\n\n"):
            lines = block.splitlines()
            if all(line.startswith((" ", "\t")) for line in lines if line.strip()):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(textwrap.fill(" ".join(block.split()), width,
                                            initial_indent=indent, subsequent_indent=indent,
                                            break_on_hyphens=False))
        return "\n\n".join(blocks)


def plain_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Run :func:`plain_text` over the descriptions and help strings of ``parser`` and of
    every sub-command below it, and give each the paragraph formatter. Called once by each
    CLI's ``build_parser``, after every command has registered itself."""
    parser.formatter_class = ParagraphHelpFormatter
    if parser.description:
        parser.description = plain_text(parser.description)
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = plain_text(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if isinstance(choice.help, str):
                    choice.help = plain_text(choice.help)
            for child in set(action.choices.values()):
                plain_help(child)
    return parser
