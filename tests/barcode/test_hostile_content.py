"""Any symbol content yields a result or an invalid read, never an exception.

A printed barcode can hold anything: a 4301-digit "version" after ``CSCMD`` (Python's int()
refuses strings that long), 4000-character payloads, binary, bytes that are not UTF-8, GS1
strings with unknown or repeated AIs. The interpreter is documented never to raise; the GS1
parser raises :class:`~barcode.gs1.GS1Error` and nothing else. Both are checked here with
generated content, and the decoders are fed real symbols holding such content.
"""

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from barcode import commands as cmd
from barcode import gs1
from barcode.errors import BarcodeError
from barcode.interpret import Interpreter, local_formats_from_config
from barcode.reader import InvalidRead, build_reader
from barcode.symbols import SYMBOLOGIES, SymbolRead

GS = gs1.GS
SITES = ("arm",)
LOCAL = local_formats_from_config([
    {"symbology": "code128", "pattern": r"MRN(?P<id>\d{6,10})", "issuer": "ST-MARY"},
    {"symbology": "qrcode", "pattern": r"(?P<issuer>[A-Z]+):(?P<id>\d+)"},
])
INTERPRETER = Interpreter(LOCAL, SITES)
GSRN = gs1.with_check_digit("79512345000000001")

#: Every character, lone surrogates included (what a careless decoder might hand over).
ANY_CHAR = st.characters(codec=None, categories=None)
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=6000)
PREFIXES = st.sampled_from(["", "CSCMD", "CSCMD1:", "CSCMD1:consent:", "]C1", "]d2", "]Q3", GS,
                            "(8018)", "8018", "(8019)", "(01)", "(99)", "(8017)"])
TAILS = st.one_of(
    DIGITS,
    st.text(ANY_CHAR, max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(alphabet="0123456789()" + GS + ":", max_size=4200),
)


def _check(result) -> None:
    assert result.role in ("patient", "caregiver", "command", "invalid", "unknown")
    assert (result.role == "invalid") == (result.error is not None)
    assert (result.identity is not None) == (result.role in ("patient", "caregiver"))
    if result.identity is not None and result.identity.issuer == "GS1":
        assert gs1.is_valid(result.identity.id)


@settings(max_examples=400, deadline=None)
@given(PREFIXES, TAILS, st.sampled_from(SYMBOLOGIES), st.sampled_from([True, False, None]))
def test_interpreter_never_raises_on_hostile_text(prefix, tail, symbology, flag):
    _check(INTERPRETER.interpret(SymbolRead(symbology, prefix + tail, flag, "test")))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=12), st.integers(4290, 9000),
       st.sampled_from(["", ":consent:teaching", ":x"]))
def test_oversized_command_version_is_an_invalid_read(pattern, length, rest):
    version = (pattern * (length // len(pattern) + 1))[:length]
    result = INTERPRETER.interpret(SymbolRead("qrcode", "CSCMD" + version + rest, False, "t"))
    stripped = version.lstrip("0")
    if stripped == "1" and rest == ":consent:teaching":
        assert result.role == "command"  # leading zeros: still version 1
    else:
        assert result.role == "invalid"
        assert version[:20] not in (result.error or "")  # the data is never echoed


def test_the_issues_card_is_invalid_not_an_exception():
    text = "CSCMD" + "7" * 4301
    with pytest.raises(cmd.CommandCardError):
        cmd.parse_command(text)
    result = INTERPRETER.interpret(SymbolRead("qrcode", text, False, "zxing-cpp"))
    assert result.role == "invalid" and result.error == "malformed command card"
    result = INTERPRETER.interpret(SymbolRead("qrcode", text + ":consent:teaching", False, "z"))
    assert result.role == "invalid"
    assert result.error == "unsupported command card version (too long)"


@st.composite
def ai_soups(draw):
    """Element strings from known and unknown AIs, repeated or not, valid data or not."""
    known = st.sampled_from(["01", "10", "17", "21", "8017", "8018", "8019", "91", "3103"])
    unknown = st.sampled_from(["04", "19", "23", "89", "8099", "7777", "999"])
    parts = draw(st.lists(st.tuples(st.one_of(known, unknown),
                                    st.one_of(st.just(GSRN), DIGITS.map(lambda d: d[:30]),
                                              st.text(ANY_CHAR, max_size=40))),
                          min_size=1, max_size=8))
    if draw(st.booleans()) and parts:
        parts.append(parts[0])  # a repeated AI, same data
    hri = draw(st.booleans())
    if hri:
        return "".join(f"({ai}){data}" for ai, data in parts)
    return draw(st.sampled_from(["", "]C1", "]d2", GS])) + GS.join(ai + d for ai, d in parts)


@settings(max_examples=500, deadline=None)
@given(ai_soups())
def test_gs1_parser_raises_only_its_error_on_ai_soup(text):
    try:
        elements = gs1.parse_element_string(text)
    except gs1.GS1Error as exc:
        assert isinstance(exc, BarcodeError)
        return
    seen: dict[str, str] = {}
    for ai, data in elements:
        assert ai in gs1.AI_TABLE
        assert seen.setdefault(ai, data) == data  # a repeat must agree


@settings(max_examples=300, deadline=None)
@given(ai_soups(), st.sampled_from([True, None]))
def test_interpreter_never_raises_on_ai_soup(text, flag):
    _check(INTERPRETER.interpret(SymbolRead("datamatrix", text, flag, "test")))


def test_repeated_ai_with_different_data_is_invalid():
    other = gs1.with_check_digit("79512345000000002")
    result = INTERPRETER.interpret(SymbolRead("datamatrix", f"(8018){GSRN}(8018){other}", True,
                                              "t"))
    assert result.role == "invalid" and "twice" in result.error
    assert GSRN not in result.error and other not in result.error


def test_huge_gs1_numbers_are_invalid():
    for text in (f"8018{'9' * 5000}", f"(8019){'1' * 5000}", f"(8018){GSRN}(8019){'1' * 4400}"):
        result = INTERPRETER.interpret(SymbolRead("qrcode", text, True, "t"))
        assert result.role == "invalid", text[:12]


def _symbol(content: str | bytes, symbology: str = "QRCode", scale: int = 3) -> np.ndarray:
    barcode = zxingcpp.create_barcode(content, getattr(zxingcpp.BarcodeFormat, symbology))
    return np.ascontiguousarray(zxingcpp.write_barcode_to_image(barcode, scale=scale))


HOSTILE_SYMBOLS = {
    "oversized-card": ("CSCMD" + "9" * 4301, "invalid"),
    "4000-chars": ("A1" * 2000, "unknown"),
    "binary": (bytes(range(256)), "unknown"),
    "invalid-utf8": (b"CSCMD1:consent:\xff\xfe\xc3\x28", "invalid"),
    "gs1-lookalike-unknown-ai": ("(8018)" + GSRN + "(8099)12", "invalid"),
}


@pytest.mark.parametrize("backend", ["zxing-cpp", "pyzbar"])
@pytest.mark.parametrize("name", sorted(HOSTILE_SYMBOLS))
def test_real_symbols_with_hostile_content_read_without_raising(backend, name):
    content, role = HOSTILE_SYMBOLS[name]
    reader = build_reader({"backends": [backend], "consecutive_reads": 1}, SITES)
    frame = _symbol(content)
    results = reader.read_frame(frame)
    assert [r.role for r in results] == [role]
    events = reader.feed(frame)
    if role == "invalid":
        assert [type(e) for e in events] == [InvalidRead]
    else:
        assert events == []
