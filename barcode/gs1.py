"""GS1 numbering and element strings: check digits, application identifiers, parsing.

Wristbands and badges carry GS1 element strings: a run of application identifiers (AIs), each
followed by its data. Decoders hand them over in two shapes, and both are parsed here:

* the transmitted form, where FNC1 is sent as ASCII GS (0x1D) between variable-length fields,
  optionally preceded by a GS1 symbology identifier (``]C1``, ``]d2``, ``]Q3`` ...) or a GS
  that stands for the leading FNC1;
* the human-readable form ``(8018)795123450000000016(8019)1234``.

Parsing checks structure only (known AI, length, character set). Check digits are the caller's
business (:func:`is_valid`), because whether a wrong one matters depends on the AI. Error
messages name AIs and positions, never the data, so a message can be logged without leaking a
patient identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BarcodeError

GS = "\x1d"

#: AIs that identify people in healthcare (GS1 General Specifications, GSRN and SRIN).
AI_CAREGIVER = "8017"  # GSRN of a service provider: a staff badge
AI_PATIENT = "8018"  # GSRN of a service recipient: a patient wristband
AI_ENCOUNTER = "8019"  # SRIN: service relation instance number (an encounter)

#: Symbology identifiers (ISO/IEC 15424) that announce GS1 data.
GS1_SYMBOLOGY_IDS = ("]C1", "]e0", "]d2", "]Q3", "]J1", "]L2")


class GS1Error(BarcodeError, ValueError):
    """An element string is malformed. The message never contains the data itself."""


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits in ``body`` (the number without its last digit).

    Weights 3 and 1 alternate starting with 3 at the rightmost digit of ``body``.
    """
    if not body.isdigit() or not body.isascii():
        raise GS1Error("GS1 numbers contain digits only")
    digits = body[::-1]  # weight 3 from the right, then 1, alternating
    total = 3 * sum(map(int, digits[0::2])) + sum(map(int, digits[1::2]))
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    return body + str(check_digit(body))


def is_valid(number: str) -> bool:
    """True when ``number``'s last digit is the right check digit for the rest."""
    return (
        len(number) >= 2
        and number.isascii()
        and number.isdigit()
        and check_digit(number[:-1]) == int(number[-1])
    )


# --- application identifiers ------------------------------------------------------------------

@dataclass(frozen=True)
class AISpec:
    """The data format of one AI: ``N`` digits or ``X`` GS1 character set 82, and its length."""

    charset: str  # "N" or "X"
    min_len: int
    max_len: int

    @property
    def fixed(self) -> bool:
        return self.min_len == self.max_len


def _spec(text: str) -> AISpec:
    """``"N18"`` (fixed), ``"X..20"`` (variable up to 20) or ``"N6..12"`` (bounded)."""
    match = re.fullmatch(r"([NX])(\d*)(?:\.\.(\d+))?", text)
    if not match:
        raise AssertionError(f"bad AI format {text!r}")
    charset, low, high = match.groups()
    if high is None:
        return AISpec(charset, int(low), int(low))
    return AISpec(charset, int(low or 1), int(high))


def _expand(table: dict[str, str]) -> dict[str, AISpec]:
    """Keys with a trailing ``n`` stand for ten AIs (``310n`` = 3100 ... 3109)."""
    out: dict[str, AISpec] = {}
    for key, fmt in table.items():
        spec = _spec(fmt)
        if key.endswith("n"):
            for digit in "0123456789":
                out[key[:-1] + digit] = spec
        else:
            out[key] = spec
    return out


#: The AIs a healthcare label is likely to carry; an AI not listed here is a parse error in the
#: transmitted form, because without its length the rest of the string cannot be split.
AI_TABLE: dict[str, AISpec] = _expand({
    "00": "N18", "01": "N14", "02": "N14", "03": "N14", "10": "X..20", "11": "N6", "12": "N6",
    "13": "N6", "15": "N6", "16": "N6", "17": "N6", "20": "N2", "21": "X..20", "22": "X..20",
    "235": "X..28", "240": "X..30", "241": "X..30", "242": "N..6", "243": "X..20",
    "250": "X..30", "251": "X..30", "253": "X13..30", "254": "X..20", "255": "N13..25",
    "30": "N..8", "37": "N..8",
    **{f"3{a}{b}n": "N6" for a in "123456" for b in "0123456789"},
    "390n": "N..15", "391n": "N4..18", "392n": "N..15", "393n": "N4..18", "394n": "N4",
    "395n": "N6", "400": "X..30", "401": "X..30", "402": "N17", "403": "X..30",
    **{f"41{d}": "N13" for d in "01234567"},
    "420": "X..20", "421": "X4..12", "422": "N3", "423": "N4..15", "424": "N3",
    "425": "N4..15", "426": "N3", "427": "X..3",
    "7001": "N13", "7002": "X..30", "7003": "N10", "7004": "N..4", "7005": "X..12",
    "7006": "N6", "7007": "N6..12", "7008": "X..3", "7009": "X..10", "7010": "X..2",
    "7011": "X..10", "7020": "X..20", "7021": "X..20", "7022": "X..20", "7023": "X..30",
    "7240": "X..20",
    "8001": "N14", "8002": "X..20", "8003": "X15..30", "8004": "X..30", "8005": "N6",
    "8006": "N18", "8007": "X..34", "8008": "N8..12", "8009": "X..50", "8010": "X..30",
    "8011": "N..12", "8012": "X..20", "8013": "X..25",
    AI_CAREGIVER: "N18", AI_PATIENT: "N18", AI_ENCOUNTER: "N..10",
    "8020": "X..25", "8026": "N18", "8110": "X..70", "8111": "N4", "8112": "X..70",
    "8200": "X..70", "90": "X..30",
    **{str(d): "X..90" for d in range(91, 100)},
})

#: GS1 AI encodable character set 82 (the ``X`` fields).
_CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_HRI_AI = re.compile(r"\((\d{2,4})\)")


def lookup_ai(text: str, pos: int) -> str | None:
    """The known AI that starts at ``pos`` in ``text`` (AIs are 2 to 4 digits, prefix-free)."""
    for length in (2, 3, 4):
        candidate = text[pos:pos + length]
        if len(candidate) == length and candidate in AI_TABLE:
            return candidate
    return None


def _check_data(ai: str, data: str) -> None:
    spec = AI_TABLE[ai]
    if not spec.min_len <= len(data) <= spec.max_len:
        want = str(spec.min_len) if spec.fixed else f"{spec.min_len} to {spec.max_len}"
        raise GS1Error(f"AI ({ai}) needs {want} characters, got {len(data)}")
    if spec.charset == "N" and not (data.isascii() and data.isdigit()):
        raise GS1Error(f"AI ({ai}) takes digits only")
    if spec.charset == "X" and not set(data) <= _CSET82:
        raise GS1Error(f"AI ({ai}) contains characters outside the GS1 character set")


def _strip_prefix(text: str) -> str:
    if text.startswith("]"):
        if text[:3] not in GS1_SYMBOLOGY_IDS:
            raise GS1Error("symbology identifier does not announce GS1 data")
        text = text[3:]
    return text[1:] if text.startswith(GS) else text


def _parse_hri(text: str) -> list[tuple[str, str]]:
    markers = list(_HRI_AI.finditer(text))
    if not markers or markers[0].start() != 0:
        raise GS1Error("human-readable element string must start with '(AI)'")
    elements = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        ai, data = marker.group(1), text[marker.end():end]
        if ai not in AI_TABLE:
            raise GS1Error(f"unknown application identifier ({ai})")
        _check_data(ai, data)
        elements.append((ai, data))
    return elements


def _parse_transmitted(text: str) -> list[tuple[str, str]]:
    elements = []
    pos = 0
    while pos < len(text):
        ai = lookup_ai(text, pos)
        if ai is None:
            raise GS1Error(f"unknown application identifier at position {pos}")
        pos += len(ai)
        spec = AI_TABLE[ai]
        if spec.fixed:
            end = pos + spec.max_len
            data = text[pos:end]
            if GS in data:
                raise GS1Error(f"AI ({ai}) is cut short by a separator")
        else:
            sep = text.find(GS, pos)
            end = len(text) if sep < 0 else sep
            data = text[pos:end]
        _check_data(ai, data)
        elements.append((ai, data))
        pos = end
        if pos < len(text) and text[pos] == GS:
            pos += 1
            if pos == len(text):
                raise GS1Error("element string ends with a separator")
    return elements


def parse_element_string(raw: str | bytes) -> list[tuple[str, str]]:
    """Split a GS1 element string into ``(ai, data)`` pairs, in order.

    Accepts the transmitted form (GS separators, optional symbology identifier or leading GS)
    and the human-readable ``(AI)data`` form. Raises :class:`GS1Error` and nothing else for
    any input, including arbitrary bytes.
    """
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            raise GS1Error("element string is not ASCII") from None
    if not isinstance(raw, str):
        raise GS1Error("element string must be text or bytes")
    if not raw.isascii():
        raise GS1Error("element string is not ASCII")
    text = _strip_prefix(raw)
    if not text:
        raise GS1Error("element string is empty")
    elements = _parse_hri(text) if text.startswith("(") else _parse_transmitted(text)
    seen: dict[str, str] = {}
    for ai, data in elements:
        if seen.setdefault(ai, data) != data:
            raise GS1Error(f"AI ({ai}) appears twice with different data")
    return elements


def element_string(elements: list[tuple[str, str]], *, human_readable: bool = False) -> str:
    """The inverse of :func:`parse_element_string` (without a leading FNC1).

    The transmitted form puts a GS after every variable-length field that is not last, as the
    GS1 General Specifications require; fixed-length fields outside the predefined list also
    get one, which every reader accepts.
    """
    if human_readable:
        return "".join(f"({ai}){data}" for ai, data in elements)
    parts = []
    for i, (ai, data) in enumerate(elements):
        last = i == len(elements) - 1
        parts.append(ai + data + ("" if last or _predefined_fixed(ai) else GS))
    return "".join(parts)


#: AIs whose length is predefined by their first two digits: no FNC1 needed after them.
_PREDEFINED = {"00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18",
               "19", "20", "31", "32", "33", "34", "35", "36", "41"}


def _predefined_fixed(ai: str) -> bool:
    return ai[:2] in _PREDEFINED
