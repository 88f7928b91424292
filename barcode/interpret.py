"""What one decoded symbol means: a patient, a caregiver, a command, invalid, or unknown.

The rules, in order (the first that applies wins):

1. Content the decoder flagged as GS1 is parsed as an element string. AI 8018 is a patient
   GSRN, 8017 a caregiver GSRN, 8019 the encounter (SRIN, only with 8018). A malformed string,
   a wrong GSRN check digit, or 8017 and 8018 in one symbol is ``invalid``; GS1 content without
   those AIs (a product code) is ``unknown``.
2. Content in the command-card namespace (``CSCMD``) is a ``command``, or ``invalid`` when this
   station does not understand it.
3. Unflagged content (zbar never reports the flag) is treated as GS1 when it parses as an
   element string containing 8017, 8018 or 8019, or when it starts with ``(8017)``, ``(8018)``
   or ``(8019)``; then rule 1 applies.
4. Configured local formats for the symbol's symbology, in order: the first whose pattern
   matches the whole text gives an identity with the format's role and issuer.
5. Anything else is ``unknown``: a random product barcode never becomes a patient.

:meth:`Interpreter.interpret` never raises for any text: the parser's documented
:class:`~barcode.gs1.GS1Error` and :class:`~barcode.commands.CommandCardError` become
``invalid`` results whose ``error`` names the problem without echoing the data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import gs1
from .commands import Command, CommandCardError, is_command_payload, parse_command
from .errors import BarcodeConfigError
from .identity import GS1_ISSUER, SCANNED_GS1, SCANNED_LOCAL, Identity, Role
from .symbols import SYMBOLOGIES, SymbolRead

Outcome = Literal["patient", "caregiver", "command", "invalid", "unknown"]
_IDENTITY_AIS = (gs1.AI_CAREGIVER, gs1.AI_PATIENT, gs1.AI_ENCOUNTER)
_HRI_IDENTITY = re.compile(r"^(?:\][A-Za-z][0-9])?\((?:8017|8018|8019)\)")


@dataclass(frozen=True)
class LocalFormat:
    """One configured local wristband or badge format (``[[barcode.local_formats]]``)."""

    symbology: str
    pattern: re.Pattern[str]
    role: Role = "patient"
    issuer: str | None = None

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any]) -> LocalFormat:
        """Build from a config table; raises ValueError with the reason when it is unusable."""
        symbology = item.get("symbology")
        if symbology not in SYMBOLOGIES:
            raise BarcodeConfigError(f"local format symbology must be one of {list(SYMBOLOGIES)}")
        role = item.get("role", "patient")
        if role not in ("patient", "caregiver"):
            raise BarcodeConfigError("local format role must be 'patient' or 'caregiver'")
        try:
            pattern = re.compile(item["pattern"])
        except (KeyError, TypeError, re.error) as exc:
            raise BarcodeConfigError(
                f"local format pattern is not a valid regular expression ({exc})") from None
        if "id" not in pattern.groupindex:
            raise BarcodeConfigError("local format pattern needs a named group (?P<id>...)")
        issuer = item.get("issuer")
        if issuer is None and "issuer" not in pattern.groupindex:
            raise BarcodeConfigError("local format needs an issuer or a (?P<issuer>...) group")
        return cls(symbology, pattern, role, issuer)


@dataclass(frozen=True, repr=False)
class Interpretation:
    """The meaning of one symbol; :meth:`as_json` is the ``scan`` command's result object."""

    role: Outcome
    symbology: str
    gs1: bool = False
    identity: Identity | None = None
    command: Command | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "role": self.role,
            "id": ident.id if ident else None,
            "issuer": ident.issuer if ident else None,
            "encounter": ident.encounter if ident else None,
            "command": self.command.name if self.command else None,
            "symbology": self.symbology,
            "gs1": self.gs1,
            "error": self.error,
        }

    def __repr__(self) -> str:
        return (
            f"Interpretation(role={self.role!r}, symbology={self.symbology!r}, gs1={self.gs1}, "
            f"identity={self.identity!r}, command={self.command!r}, error={self.error!r})"
        )

    __str__ = __repr__


class Interpreter:
    """Applies the rules above with a station's local formats and body sites."""

    def __init__(
        self, local_formats: Sequence[LocalFormat] = (), body_sites: Iterable[str] = ()
    ) -> None:
        self.local_formats = tuple(local_formats)
        self.body_sites = tuple(body_sites)

    def interpret(self, symbol: SymbolRead) -> Interpretation:
        text = symbol.text
        if symbol.gs1:
            return self._gs1(symbol.symbology, text)
        if is_command_payload(text):
            try:
                command = parse_command(text, self.body_sites)
            except CommandCardError as exc:
                return Interpretation("invalid", symbol.symbology, error=str(exc))
            return Interpretation("command", symbol.symbology, command=command)
        if _looks_like_gs1_identity(text):
            return self._gs1(symbol.symbology, text)
        for fmt in self.local_formats:
            if fmt.symbology == symbol.symbology:
                match = fmt.pattern.fullmatch(text)
                if match:
                    return _local(symbol.symbology, fmt, match)
        return Interpretation("unknown", symbol.symbology)

    def _gs1(self, symbology: str, text: str) -> Interpretation:
        try:
            elements = dict(gs1.parse_element_string(text))
        except gs1.GS1Error as exc:
            return Interpretation("invalid", symbology, gs1=True, error=str(exc))
        try:
            identity = gs1_identity(elements)
        except gs1.GS1Error as exc:
            return Interpretation("invalid", symbology, gs1=True, error=str(exc))
        if identity is None:
            return Interpretation("unknown", symbology, gs1=True)
        return Interpretation(identity.role, symbology, gs1=True, identity=identity)


def gs1_identity(elements: Mapping[str, str]) -> Identity | None:
    """The person named by parsed GS1 elements, None when they name nobody.

    Raises :class:`~barcode.gs1.GS1Error` for a wrong GSRN check digit, a symbol that claims to
    be both patient and caregiver, or an encounter without a patient.
    """
    patient = elements.get(gs1.AI_PATIENT)
    caregiver = elements.get(gs1.AI_CAREGIVER)
    encounter = elements.get(gs1.AI_ENCOUNTER)
    if patient is not None and caregiver is not None:
        raise gs1.GS1Error("symbol carries both a patient (8018) and a caregiver (8017) GSRN")
    if patient is not None:
        if not gs1.is_valid(patient):
            raise gs1.GS1Error("patient GSRN (8018) has a wrong check digit")
        return Identity("patient", patient, GS1_ISSUER, encounter, SCANNED_GS1)
    if encounter is not None:
        raise gs1.GS1Error("encounter (8019) without a patient GSRN (8018)")
    if caregiver is not None:
        if not gs1.is_valid(caregiver):
            raise gs1.GS1Error("caregiver GSRN (8017) has a wrong check digit")
        return Identity("caregiver", caregiver, GS1_ISSUER, None, SCANNED_GS1)
    return None


def _looks_like_gs1_identity(text: str) -> bool:
    """Rule 3: unflagged text that is GS1 by its structure (zbar, or a mis-encoded band)."""
    if _HRI_IDENTITY.match(text):
        return True
    try:
        elements = gs1.parse_element_string(text)
    except gs1.GS1Error:
        return False
    return any(ai in _IDENTITY_AIS for ai, _ in elements)


def _local(symbology: str, fmt: LocalFormat, match: re.Match[str]) -> Interpretation:
    groups = match.groupdict()
    ident = groups.get("id")
    issuer = groups.get("issuer") or fmt.issuer
    if not ident:
        return Interpretation("invalid", symbology, error="local format matched an empty id")
    if not issuer:
        return Interpretation("invalid", symbology, error="local format matched an empty issuer")
    identity = Identity(fmt.role, ident, issuer, groups.get("encounter") or None, SCANNED_LOCAL)
    return Interpretation(fmt.role, symbology, identity=identity)


def local_formats_from_config(items: Iterable[Mapping[str, Any]]) -> tuple[LocalFormat, ...]:
    """Compile ``[barcode] local_formats`` tables; ValueError names the entry at fault."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(LocalFormat.from_mapping(item))
        except ValueError as exc:
            raise BarcodeConfigError(f"[barcode] local_formats entry {i}: {exc}") from None
    return tuple(out)
