"""JSON and TOML from someone else, parsed so that nothing but one error type can come out.

Python's parsers raise whatever the input provokes: ``RecursionError`` for deep nesting,
``ValueError`` for an integer over 4300 digits, ``OverflowError`` later when such an integer
meets a float, and they accept ``NaN``/``Infinity`` (JSON) or ``nan``/``inf`` (TOML) that pass
every ``min <= x <= max`` check. Every parser of the project (the envelope header and
metadata, enrolment requests and answers, receipts, the provisioning QR payload and file, the
station and forwarding configs) goes through here and turns :class:`ParseError` into its own
error type. Messages name the problem, never the content (a bundle holds secrets, metadata
patient data).
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

from .errors import SyncError

#: Integers longer than this are refused in JSON (counts, sizes and times fit in 16 digits).
MAX_INT_DIGITS = 16


class ParseError(SyncError, ValueError):
    """The text is not the strict JSON or TOML expected; the message never quotes it."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParseError("JSON object repeats a key")
        result[key] = value
    return result


def _no_constant(_text: str) -> float:
    raise ParseError("NaN and Infinity are not JSON")


def loads_json(data: bytes | bytearray | memoryview | str, *, ascii_only: bool = False,
               floats: bool = False, max_int_digits: int = MAX_INT_DIGITS) -> Any:
    """Strict JSON: UTF-8 (or ASCII), no duplicate keys, integers of at most
    ``max_int_digits`` digits, finite floats only where ``floats`` allows them, no NaN or
    Infinity. Any nesting depth or garbage raises :class:`ParseError`, nothing else."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("ascii" if ascii_only else "utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"not {'ASCII' if ascii_only else 'UTF-8'}") from None

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > max_int_digits:
            raise ParseError("JSON number is too long")
        return int(digits)

    def parse_float(literal: str) -> float:
        if not floats:
            raise ParseError("JSON numbers here are integers")
        value = float(literal) if len(literal) <= 64 else math.inf
        if not math.isfinite(value):
            raise ParseError("JSON number is out of range")
        return value

    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_int=parse_int,
                          parse_float=parse_float, parse_constant=_no_constant)
    except ParseError:
        raise
    except (ValueError, RecursionError, OverflowError):  # JSONDecodeError is a ValueError
        raise ParseError("not valid JSON") from None


def loads_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` that raises only :class:`ParseError` (deep nesting, integers over
    4300 digits). Non-finite floats are left to the caller, whose message can name the key."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message gives line and column, never the content: safe to show.
        raise ParseError(f"not valid TOML ({exc})") from None
    except (ValueError, RecursionError, OverflowError):
        raise ParseError("not valid TOML (a number is too long or the nesting too deep)") \
            from None


def finite_number(value: object) -> bool:
    """An int or float that is finite and not a bool (a huge int counts: it is exact)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters (a 5000-digit int or a
    megabyte string must not flood a log, and ``repr`` of a huge int itself raises)."""
    try:
        text = repr(value)
    except ValueError:
        return f"<an integer of about {value.bit_length() * 0.30103:.0f} digits>" \
            if isinstance(value, int) else "<unprintable>"
    return text if len(text) <= limit else text[:limit - 3] + "..."
