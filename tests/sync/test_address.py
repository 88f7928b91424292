"""`--address` values: the one parser behind `capture-station enrol` and `provision`."""

from __future__ import annotations

import pytest

from sync.address import AddressError, parse_address


@pytest.mark.parametrize("text, expected", [
    ("192.168.1.20:8444", ("192.168.1.20", 8444)),
    ("127.0.0.1:1", ("127.0.0.1", 1)),
    ("practice.local:65535", ("practice.local", 65535)),
    ("receiver:8444", ("receiver", 8444)),
    ("[::1]:8444", ("::1", 8444)),
    ("[fe80::1%eth0]:8444", ("fe80::1%eth0", 8444)),
    ("[2001:db8::7]:443", ("2001:db8::7", 443)),
])
def test_valid_addresses(text, expected) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("192.168.1.20", "is not HOST:PORT"),  # no port
    ("practice.local", "is not HOST:PORT"),
    (":8444", "is not HOST:PORT"),  # no host
    ("", "is not HOST:PORT"),
    ("host:", "the port must be 1 to 65535"),
    ("host:0", "the port must be 1 to 65535"),
    ("host:65536", "the port must be 1 to 65535"),
    ("host:84a4", "the port must be 1 to 65535"),
    ("host:-1", "the port must be 1 to 65535"),
    ("host:８４４４", "the port must be 1 to 65535"),  # full-width digits are not a port
    ("[::1]:0", "the port must be 1 to 65535"),
    ("[::1]", "is not [IPv6]:PORT"),  # no port
    ("[::1]8444", "is not [IPv6]:PORT"),
    ("[::1:8444", "is not [IPv6]:PORT"),  # unclosed bracket
    ("[practice.local]:8444", "is not an IPv6 address"),
    ("[192.168.1.20]:8444", "is not an IPv6 address"),
    ("::1:8444", "write an IPv6 address in brackets, as [::1]:8444"),  # ambiguous
    ("fe80::1:8444", "in brackets"),
    ("my host:8444", "the host is not a name or address"),
    ("host/path:8444", "the host is not a name or address"),
])
def test_invalid_addresses_say_why(text, fragment) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)
