"""Command cards: printed barcodes that tag a session on a station without a screen.

A card's payload is namespaced and versioned, ``CSCMD1:<kind>:<value>``, so a random barcode
can never be mistaken for a command and a future format can change without old stations
misreading it. Anything in the namespace that this version does not understand (another
version, an unknown kind or value, a body site this station does not offer) is an error, which
the reader reports as an invalid read rather than ignoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import BarcodeError

NAMESPACE = "CSCMD"
VERSION = 1
PREFIX = f"{NAMESPACE}{VERSION}:"

CONSENT_LEVELS = ("record-only", "teaching", "publication", "emergency-override")
LATERALITIES = ("left", "right", "bilateral", "midline")
END_SESSION = "end"
#: Document types a "document" card starts; ``end`` closes the document, ``retake`` drops
#: its last page.
DOCUMENT_TYPES = ("consent-form", "referral", "sketch", "other")
END_DOCUMENT = "end"
RETAKE_PAGE = "retake"
DOCUMENT_ACTIONS = (*DOCUMENT_TYPES, END_DOCUMENT, RETAKE_PAGE)

Kind = Literal["consent", "site", "laterality", "session", "document"]
KINDS: tuple[Kind, ...] = ("consent", "site", "laterality", "session", "document")

#: Human labels printed on the cards.
LABELS = {"consent": "Consent", "site": "Body site", "laterality": "Laterality",
          "session": "Session", "document": "Document"}


class CommandCardError(BarcodeError, ValueError):
    """A payload in the command namespace that this station cannot accept."""


@dataclass(frozen=True)
class Command:
    """One card's meaning, e.g. ``Command("consent", "teaching")``."""

    kind: Kind
    value: str

    @property
    def payload(self) -> str:
        """What the card's barcode encodes."""
        return f"{PREFIX}{self.kind}:{self.value}"

    @property
    def name(self) -> str:
        """Short form used in JSON output and logs: ``consent:teaching``."""
        return f"{self.kind}:{self.value}"

    @property
    def label(self) -> str:
        """Text printed under the barcode."""
        if self.kind == "session":
            return "End session"
        if self.kind == "document" and self.value == END_DOCUMENT:
            return "End document"
        if self.kind == "document" and self.value == RETAKE_PAGE:
            return "Retake page"
        return f"{LABELS[self.kind]}: {self.value.replace('-', ' ')}"


def is_command_payload(text: str) -> bool:
    """True when ``text`` claims the command namespace (any version)."""
    return text.startswith(NAMESPACE)


def parse_command(text: str, body_sites: Iterable[str] = ()) -> Command:
    """The command in ``text``; :class:`CommandCardError` when it is in the namespace but not
    understood. Values are never echoed in the message (a card could carry anything)."""
    if not is_command_payload(text):
        raise CommandCardError("not a command card")
    rest = text[len(NAMESPACE):]
    version, sep, body = rest.partition(":")
    if not sep or not version.isdigit() or not version.isascii():
        raise CommandCardError("malformed command card")
    # Compared as text: int() refuses strings over 4300 digits (a printed card can hold more),
    # and a version that long is no version this station knows anyway.
    number = version.lstrip("0") or "0"
    if number != str(VERSION):
        shown = number if len(number) <= 6 else "(too long)"
        raise CommandCardError(f"unsupported command card version {shown}")
    kind, sep, value = body.partition(":")
    if not sep:
        raise CommandCardError("malformed command card")
    allowed: Sequence[str]
    if kind == "consent":
        allowed = CONSENT_LEVELS
    elif kind == "laterality":
        allowed = LATERALITIES
    elif kind == "session":
        allowed = (END_SESSION,)
    elif kind == "document":
        allowed = DOCUMENT_ACTIONS
    elif kind == "site":
        allowed = tuple(body_sites)
        if value not in allowed:
            raise CommandCardError("body site card is not configured on this station")
    else:
        raise CommandCardError("unknown command card kind")
    if value not in allowed:
        raise CommandCardError(f"unknown {kind} command")
    return Command(kind, value)  # type: ignore[arg-type]


def all_commands(body_sites: Sequence[str]) -> list[Command]:
    """Every card a station with these body sites understands, in sheet order."""
    commands = [Command("consent", level) for level in CONSENT_LEVELS]
    commands += [Command("laterality", side) for side in LATERALITIES]
    commands += [Command("site", site) for site in dict.fromkeys(body_sites) if site]
    commands += [Command("document", action) for action in DOCUMENT_ACTIONS]
    commands.append(Command("session", END_SESSION))
    return commands
