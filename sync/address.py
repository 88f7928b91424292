"""Receiver addresses as a person types them: ``HOST:PORT`` or ``[IPv6]:PORT``.

Used where mDNS is skipped (``--address`` on ``capture-station enrol`` and ``provision``, for
a network that blocks multicast). An address is only a place to try: the TLS pin still
decides whom to trust (:mod:`sync.pinning`), so this only has to be unambiguous. That is why
an IPv6 literal must be in brackets: in ``fe80::1:8444`` nobody can tell where the address
ends and the port begins.
"""

from __future__ import annotations

import ipaddress

from .errors import SyncError

__all__ = ["AddressError", "parse_address"]


class AddressError(SyncError, ValueError):
    """Not ``HOST:PORT``; the message quotes the text (an address, never a secret)."""


def _port(text: str, value: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise AddressError(f"{value!r} is not HOST:PORT (the port must be 1 to 65535)")
    return int(text)


def parse_address(value: str) -> tuple[str, int]:
    """``"host:8444"`` -> ``("host", 8444)``; ``"[::1]:8444"`` -> ``("::1", 8444)``."""
    if value.startswith("["):
        literal, bracket, rest = value[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise AddressError(f"{value!r} is not [IPv6]:PORT")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise AddressError(f"{value!r}: {literal!r} is not an IPv6 address") from None
        return literal, _port(rest[1:], value)
    host, colon, port = value.rpartition(":")
    if not colon or not host:
        raise AddressError(f"{value!r} is not HOST:PORT")
    if ":" in host:
        raise AddressError(f"{value!r}: write an IPv6 address in brackets, as [{host}]:{port}")
    if any(ch.isspace() or ch in "[]/" for ch in host):
        raise AddressError(f"{value!r} is not HOST:PORT (the host is not a name or address)")
    return host, _port(port, value)
