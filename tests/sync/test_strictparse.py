"""The one strict JSON/TOML loader: every hostile input gives ParseError, nothing else."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.strictparse import ParseError, finite_number, loads_json, loads_toml, shown
from tests.hostile import HOSTILE_JSON, HOSTILE_TOML_VALUES, json_bytes, toml_values


@pytest.mark.parametrize("data", HOSTILE_JSON, ids=lambda d: repr(d[:16]))
def test_hostile_json_gives_parse_error_or_a_strict_value(data):
    try:
        value = loads_json(data, floats=True)
    except ParseError as exc:
        assert len(str(exc)) < 100 and "9999" not in str(exc)  # never quotes the input
        return
    # only the plain ones parse (a lone surrogate is the caller's check: it is valid JSON)
    assert data in (b"null", b"[]", b'"text"', b'"\\ud800"'), value


@pytest.mark.parametrize(("data", "message"), [
    (b'{"a": 1, "a": 2}', "repeats a key"),
    (b"NaN", "NaN and Infinity"),
    (b"[-Infinity]", "NaN and Infinity"),
    (b"1e999", "out of range"),
    (b"1.5", "integers"),
    (b"12345678901234567", "too long"),
    (b"[" * 100_000, "not valid JSON"),
    (b"\xff", "not UTF-8"),
])
def test_each_refusal_says_why(data, message):
    with pytest.raises(ParseError, match=message):
        loads_json(data, floats=data == b"1e999")


def test_ascii_only_and_int_digits():
    with pytest.raises(ParseError, match="not ASCII"):
        loads_json("{\"a\": \"é\"}".encode(), ascii_only=True)
    assert loads_json(b"[1234, -5]", max_int_digits=4) == [1234, -5]
    with pytest.raises(ParseError, match="too long"):
        loads_json(b"12345", max_int_digits=4)


@settings(max_examples=300, deadline=None)
@given(json_bytes, st.booleans())
def test_arbitrary_bytes_give_only_parse_errors(data, floats):
    try:
        loads_json(data, floats=floats)
    except ParseError:
        pass


@pytest.mark.parametrize("value", HOSTILE_TOML_VALUES, ids=lambda v: v[:16])
def test_hostile_toml_gives_parse_error_or_a_table(value):
    try:
        table = loads_toml(f"key = {value}\n")
    except ParseError as exc:
        assert "9999" not in str(exc)
        return
    assert set(table) == {"key"}


@settings(max_examples=200, deadline=None)
@given(st.lists(toml_values, max_size=3), st.text(max_size=30))
def test_arbitrary_toml_gives_only_parse_errors(values, noise):
    text = "".join(f"k{i} = {v}\n" for i, v in enumerate(values)) + noise
    try:
        assert isinstance(loads_toml(text), dict)
    except ParseError:
        pass


def test_finite_number_and_shown():
    assert finite_number(10 ** 5000) and finite_number(1.5)
    assert not any(finite_number(v) for v in (math.nan, math.inf, -math.inf, True, "1"))
    assert shown(10 ** 5000).startswith("<an integer of about 5000 digits")
    assert len(shown("x" * 10_000)) == 60 and shown("ab") == "'ab'"
