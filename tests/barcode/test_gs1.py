"""GS1 check digits and element-string parsing, including property-based tests."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barcode import gs1
from barcode.gs1 import GS, GS1Error, element_string, parse_element_string

GSRN = "795123450000000015"


@pytest.mark.parametrize(("body", "digit"), [
    ("590123412345", 7),  # EAN-13 5901234123457 (GS1 example)
    ("400638133393", 1),  # EAN-13 4006381333931
    ("0950600013435", 2),  # GTIN-14 09506000134352 (GS1 example)
    ("00614141123456789", 0),  # SSCC 006141411234567890 (GS1 example)
    ("79512345000000001", 5),  # the fictitious demo GSRN, worked by hand
])
def test_check_digit_known_values(body, digit):
    assert gs1.check_digit(body) == digit
    assert gs1.is_valid(body + str(digit))
    assert not gs1.is_valid(body + str((digit + 1) % 10))


def test_check_digit_rejects_non_digits():
    with pytest.raises(ValueError, match="digits"):
        gs1.check_digit("12a4")
    assert not gs1.is_valid("１２３")  # full-width digits are not ASCII
    assert not gs1.is_valid("7")


@given(st.text(alphabet="0123456789", min_size=1, max_size=30), st.integers(0, 9))
def test_exactly_one_check_digit_is_valid(body, digit):
    assert gs1.is_valid(body + str(digit)) == (digit == gs1.check_digit(body))


@given(st.text(alphabet="0123456789", min_size=2, max_size=30), st.data())
def test_any_single_digit_error_is_detected(number, data):
    number = gs1.with_check_digit(number)
    pos = data.draw(st.integers(0, len(number) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != number[pos]]))
    assert not gs1.is_valid(number[:pos] + new + number[pos + 1:])


@pytest.mark.parametrize("text", [
    f"8018{GSRN}{GS}80191234",
    f"{GS}8018{GSRN}{GS}80191234",
    f"]d28018{GSRN}{GS}80191234",
    f"]C18018{GSRN}{GS}80191234",
    f"]Q38018{GSRN}{GS}80191234",
    f"(8018){GSRN}(8019)1234",
    f"8018{GSRN}80191234",  # fixed-length 8018 followed by the next AI without a separator
])
def test_both_forms_and_prefixes_parse_alike(text):
    assert parse_element_string(text) == [("8018", GSRN), ("8019", "1234")]


def test_bytes_are_accepted():
    assert parse_element_string(f"8017{GSRN}".encode()) == [("8017", GSRN)]


def test_product_string_with_predefined_and_variable_fields():
    text = f"0109506000134352{GS}10AB12{GS}17261231"
    assert parse_element_string(text) == [("01", "09506000134352"), ("10", "AB12"),
                                          ("17", "261231")]
    assert parse_element_string("010950600013435217261231") == [
        ("01", "09506000134352"), ("17", "261231")]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("]C0" + "8018" + GSRN, "does not announce GS1"),
    ("8018" + GSRN[:-1], "needs 18 characters"),
    ("(8018)" + GSRN + "0", "needs 18 characters"),
    ("8018" + GSRN[:10] + GS + GSRN[10:], "cut short"),
    ("8019ABC", "digits only"),
    ("8019" + "1" * 11, "1 to 10 characters"),
    ("10AB~12", "character set"),
    ("8018" + GSRN + GS, "ends with a separator"),
    ("6699", "unknown application identifier"),
    ("(6699)x", "unknown application identifier"),
    ("x(8018)" + GSRN, "unknown application identifier"),
    ("(8018" + GSRN, "must start"),
    ("(8018)" + GSRN + "(8018)" + GSRN.replace("15", "23"), "twice with different data"),
    ("8018é", "not ASCII"),
])
def test_errors_name_the_problem_not_the_data(text, message):
    with pytest.raises(GS1Error, match=message) as info:
        parse_element_string(text)
    assert GSRN not in str(info.value)


def test_non_ascii_bytes_are_an_error():
    with pytest.raises(GS1Error, match="not ASCII"):
        parse_element_string(b"8018\xff")


@settings(max_examples=600)
@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_the_documented_error(raw):
    try:
        elements = parse_element_string(raw)
    except GS1Error:
        return
    assert elements
    for ai, data in elements:
        assert ai in gs1.AI_TABLE
        spec = gs1.AI_TABLE[ai]
        assert spec.min_len <= len(data) <= spec.max_len


_ALPHABET = sorted(set("0123456789" + GS + "()]CdQ18079") | {"A", "x", "é", "\x00"})


@settings(max_examples=600)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_gs1_looking_text_parses_or_raises_the_documented_error(text):
    try:
        parse_element_string(text)
    except GS1Error:
        pass


def _field(ai):
    spec = gs1.AI_TABLE[ai]
    alphabet = "0123456789" if spec.charset == "N" else "ABCXYZ0123456789-./_"
    return st.text(alphabet=alphabet, min_size=spec.min_len, max_size=spec.max_len)


_AIS = st.sampled_from(["01", "10", "17", "21", "8017", "8018", "8019", "91", "3103", "7003"])


@st.composite
def element_lists(draw):
    ais = draw(st.lists(_AIS, min_size=1, max_size=5, unique=True))
    return [(ai, draw(_field(ai))) for ai in ais]


@settings(max_examples=400)
@given(element_lists(), st.booleans())
def test_element_string_round_trips(elements, human_readable):
    text = element_string(elements, human_readable=human_readable)
    assert parse_element_string(text) == elements
    if not human_readable:
        assert parse_element_string(GS + text) == elements
        assert parse_element_string("]d2" + text) == elements


def test_transmitted_form_separates_only_where_needed():
    text = element_string([("01", "09506000134352"), ("10", "AB1"), ("8018", GSRN)])
    assert text == f"0109506000134352" f"10AB1{GS}8018{GSRN}"
