"""GS1 numbering: the mod-10 check digit shared by GSRN, GTIN, SSCC and friends."""

from __future__ import annotations


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits in ``body`` (the number without its last digit).

    Weights 3 and 1 alternate starting with 3 at the rightmost digit of ``body``.
    """
    if not body.isdigit() or not body.isascii():
        raise ValueError("GS1 numbers contain digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
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
