"""Hostile inputs every parser's tests share: what made Python's parsers raise the wrong thing.

Each parser test feeds these (and the hypothesis strategies below) to its parser and accepts
only the parser's own error type or a valid result. Example counts stay small: the point is
the shapes, which the fixed lists name, not volume.
"""

from __future__ import annotations

from hypothesis import strategies as st

DEEP = 100_000
#: JSON texts (bytes) that once raised RecursionError, ValueError, OverflowError or passed NaN.
HOSTILE_JSON: list[bytes] = [
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b"9" * 5000,
    b'{"token": ' + b"9" * 5000 + b"}",
    b"-" + b"9" * 4400,
    b"1e999",
    b"-1e999",
    b"1" + b"0" * 400 + b".5",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'{"a": NaN}',
    b'{"a": 1, "a": 2}',
    b'{"token": "x", "token": "y"}',
    b"\xff\xfe{}",
    b'{"a": "\xc3\x28"}',
    b'"\\ud800"',
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"\x00",
]

#: TOML values (right-hand sides) that are syntactically fine or provoke the parser's limits.
HOSTILE_TOML_VALUES: list[str] = [
    "nan", "+nan", "-nan", "inf", "+inf", "-inf", "1e400", "-1e400",
    "9" * 4000, "9" * 5000, "-" + "9" * 5000,
    "[" * 5000 + "]" * 5000, "{a=" * 3000 + "1" + "}" * 3000,
    '"' + "x" * 100_000 + '"', '"\\u0000"', '"\\u001b[31m"', "true", "[1, 2, 3]",
    "{}", "[]", "1979-05-27T07:32:00Z", "0x7fffffffffffffff",
]

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
            | st.text(max_size=20))
#: Python values of any JSON-ish shape (what a parser hands a validator).
json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
#: TOML right-hand sides: the hostile list, or a small literal hypothesis makes up.
toml_values = st.sampled_from(HOSTILE_TOML_VALUES) | st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True).map(repr),  # nan, inf, 1e+300 are TOML literals too
    st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"')
                             + '"'),
    st.booleans().map(lambda b: str(b).lower()),
)
#: Bytes that look a little like JSON: hostile fragments joined with random bytes.
json_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"a"', b":", b",", b"1", b"-",
                              b"1e999", b"NaN", b'"\\ud800"', b"\xff", b"9" * 30]),
             max_size=40).map(b"".join),
    st.sampled_from(HOSTILE_JSON),
)
