"""What a symbol means: the interpretation rules, local formats, command cards, privacy."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barcode import commands as cmd
from barcode.gs1 import GS, with_check_digit
from barcode.identity import Identity
from barcode.interpret import Interpreter, LocalFormat, local_formats_from_config
from barcode.reader import CaregiverIdentified, Conflict, InvalidRead, PatientIdentified
from barcode.symbols import SymbolRead

PATIENT = with_check_digit("79512345000000001")
OTHER = with_check_digit("79512345000000002")
CAREGIVER = with_check_digit("79512345000009001")
BAD = PATIENT[:-1] + str((int(PATIENT[-1]) + 3) % 10)
SITES = ("arm", "left forearm")
LOCAL = local_formats_from_config([
    {"symbology": "code128", "pattern": r"MRN(?P<id>\d{6,10})", "issuer": "ST-MARY"},
    {"symbology": "qrcode", "pattern": r"(?P<issuer>[A-Z]+):(?P<id>\d+)(?:/(?P<encounter>\d+))?"},
    {"symbology": "code128", "pattern": r"EMP(?P<id>\d*)", "role": "caregiver",
     "issuer": "ST-MARY"},
])


def interp(text, symbology="datamatrix", gs1=None, local=(), sites=SITES):
    return Interpreter(local, sites).interpret(SymbolRead(symbology, text, gs1, "test"))


@pytest.mark.parametrize("flag", [True, None, False])
def test_gs1_patient_from_flagged_or_unflagged_content(flag):
    result = interp(f"8018{PATIENT}{GS}80191234", gs1=flag)
    assert result.role == "patient" and result.gs1
    assert result.identity == Identity("patient", PATIENT, "GS1", "1234", "scanned-gs1")


def test_human_readable_form_in_a_plain_symbol_is_gs1():
    result = interp(f"(8018){PATIENT}", symbology="code128", gs1=False)
    assert result.role == "patient" and result.identity.id == PATIENT


def test_caregiver_badge_is_never_a_patient():
    result = interp(f"8017{CAREGIVER}", gs1=True)
    assert result.role == "caregiver"
    assert result.identity.role == "caregiver" and result.identity.id == CAREGIVER


@pytest.mark.parametrize(("text", "error"), [
    (f"8018{BAD}", "patient GSRN (8018) has a wrong check digit"),
    (f"8017{BAD}", "caregiver GSRN (8017) has a wrong check digit"),
    (f"8018{PATIENT}8017{CAREGIVER}", "both a patient (8018) and a caregiver (8017)"),
    (f"8017{CAREGIVER}{GS}80191234", "encounter (8019) without a patient"),
    ("80191234", "encounter (8019) without a patient"),
])
def test_invalid_gs1_identities(text, error):
    for flag in (True, None):
        result = interp(text, gs1=flag)
        assert result.role == "invalid", flag
        assert error in result.error
        assert PATIENT not in repr(result) and BAD not in result.error


def test_truncated_gsrn_is_invalid_when_flagged_and_unknown_when_not():
    text = f"8018{PATIENT[:-2]}"
    result = interp(text, gs1=True)
    assert result.role == "invalid" and "needs 18 characters" in result.error
    assert interp(text, gs1=None).role == "unknown"


def test_unflagged_text_starting_with_identity_ai_marker_is_invalid_when_malformed():
    assert interp("(8018)12345", symbology="code128", gs1=False).role == "invalid"
    # ...but digits that merely start like an AI are just some barcode.
    assert interp("801812345", symbology="code128", gs1=False).role == "unknown"


def test_gs1_product_code_is_unknown():
    result = interp(f"0109506000134352{GS}10AB12", gs1=True)
    assert (result.role, result.gs1, result.identity) == ("unknown", True, None)
    # Unflagged product data is not GS1 as far as the station cares.
    assert interp("0109506000134352", gs1=None).role == "unknown"


def test_flagged_gs1_that_does_not_parse_is_invalid():
    result = interp("hello", gs1=True)
    assert result.role == "invalid" and "unknown application identifier" in result.error


def test_local_formats_only_when_configured_and_for_their_symbology():
    assert interp("MRN1234567", "code128").role == "unknown"
    result = interp("MRN1234567", "code128", local=LOCAL)
    assert result.identity == Identity("patient", "1234567", "ST-MARY", None, "scanned-local")
    assert not result.gs1
    assert interp("MRN1234567", "pdf417", local=LOCAL).role == "unknown"
    # Whole-text match only.
    assert interp("xMRN1234567", "code128", local=LOCAL).role == "unknown"


def test_local_format_issuer_and_encounter_groups():
    result = interp("HOSPB:991/77", "qrcode", local=LOCAL)
    assert result.identity == Identity("patient", "991", "HOSPB", "77", "scanned-local")
    assert interp("HOSPB:991", "qrcode", local=LOCAL).identity.encounter is None


def test_local_caregiver_format_and_empty_id():
    assert interp("EMP4021", "code128", local=LOCAL).identity.role == "caregiver"
    result = interp("EMP", "code128", local=LOCAL)
    assert result.role == "invalid" and "empty id" in result.error


def test_gs1_wins_over_a_local_format_that_would_also_match():
    local = local_formats_from_config([{"symbology": "code128", "pattern": r"(?P<id>\d+)",
                                        "issuer": "X"}])
    assert interp(f"8018{PATIENT}", "code128", local=local).identity.issuer == "GS1"
    assert interp("12345", "code128", local=local).identity.issuer == "X"


@pytest.mark.parametrize(("item", "message"), [
    ({"symbology": "ean13", "pattern": "(?P<id>.)", "issuer": "X"}, "symbology"),
    ({"symbology": "qrcode", "pattern": "(?P<id>.)", "issuer": "X", "role": "x"}, "role"),
    ({"symbology": "qrcode", "pattern": "(", "issuer": "X"}, "regular expression"),
    ({"symbology": "qrcode", "pattern": "(?P<mrn>.)", "issuer": "X"}, "(?P<id>"),
    ({"symbology": "qrcode", "pattern": "(?P<id>.)"}, "issuer"),
])
def test_unusable_local_formats_are_refused_with_the_reason(item, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        local_formats_from_config([{"symbology": "qrcode", "pattern": "(?P<id>.)",
                                    "issuer": "A"}, item])
    assert "entry 1" in str(info.value)


def test_command_cards_round_trip_through_the_interpreter():
    for command in cmd.all_commands(SITES):
        result = interp(command.payload, "qrcode")
        assert (result.role, result.command) == ("command", command)
        assert result.as_json()["command"] == command.name


@pytest.mark.parametrize(("payload", "error"), [
    ("CSCMD1:consent:maybe", "unknown consent command"),
    ("CSCMD1:laterality:up", "unknown laterality command"),
    ("CSCMD1:session:start", "unknown session command"),
    ("CSCMD1:site:neck", "not configured on this station"),
    ("CSCMD1:colour:red", "unknown command card kind"),
    ("CSCMD1:consent", "malformed"),
    ("CSCMD:consent:teaching", "malformed"),
    ("CSCMDx:consent:teaching", "malformed"),
    ("CSCMD2:consent:teaching", "unsupported command card version 2"),
    ("CSCMD1:consent:Teaching", "unknown consent command"),
])
def test_unknown_command_payloads_are_invalid(payload, error):
    result = interp(payload, "qrcode")
    assert result.role == "invalid"
    assert error in result.error


def test_command_payloads_are_namespaced_and_versioned():
    assert cmd.Command("consent", "teaching").payload == "CSCMD1:consent:teaching"
    assert cmd.Command("session", "end").payload == "CSCMD1:session:end"
    assert cmd.Command("site", "left forearm").label == "Body site: left forearm"
    kinds = [c.kind for c in cmd.all_commands(["arm", "arm", ""])]
    assert kinds.count("site") == 1
    assert {c.value for c in cmd.all_commands([]) if c.kind == "consent"} == {
        "record-only", "teaching", "publication", "emergency-override"}
    assert {c.value for c in cmd.all_commands([]) if c.kind == "laterality"} == {
        "left", "right", "bilateral", "midline"}


def test_scan_json_shape_has_every_key_with_nulls():
    assert interp("4006381333931", "code128").as_json() == {
        "role": "unknown", "id": None, "issuer": None, "encounter": None, "command": None,
        "symbology": "code128", "gs1": False, "error": None}


def test_no_identifier_in_any_repr_or_str():
    identity = interp(f"8018{PATIENT}{GS}80195551234", gs1=True).identity
    other = Identity("patient", OTHER, "GS1")
    symbol = SymbolRead("datamatrix", f"8018{PATIENT}", True, "zxing-cpp", "]d2")
    objects = [identity, symbol, interp(f"8018{PATIENT}", gs1=True),
               PatientIdentified(identity), CaregiverIdentified(identity),
               Conflict((identity, other)), InvalidRead("bad", "qrcode")]
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}"):
            assert PATIENT not in text and OTHER not in text and "5551234" not in text


@settings(max_examples=500)
@given(st.binary(max_size=64), st.sampled_from(["code128", "qrcode", "datamatrix", "pdf417"]),
       st.sampled_from([True, False, None]))
def test_interpret_never_raises_on_any_bytes(raw, symbology, flag):
    text = raw.decode("latin-1")
    result = Interpreter(LOCAL, SITES).interpret(SymbolRead(symbology, text, flag, "test"))
    assert result.role in ("patient", "caregiver", "command", "invalid", "unknown")
    assert (result.role == "invalid") == (result.error is not None)
    assert (result.identity is not None) == (result.role in ("patient", "caregiver"))
    if result.role == "patient" and result.identity.issuer == "GS1":
        from barcode.gs1 import is_valid
        assert is_valid(result.identity.id)


_PIECES = st.sampled_from(["CSCMD", "1", "2", ":", "consent", "site", "arm", "teaching",
                           "session", "end", "laterality", "left", "x", "", "é"])


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=8))
def test_command_parser_returns_a_command_or_the_documented_error(pieces):
    text = "".join(pieces)
    try:
        command = cmd.parse_command(text, SITES)
    except cmd.CommandCardError:
        return
    assert command.payload == text


def test_local_format_from_mapping_defaults_role_to_patient():
    fmt = LocalFormat.from_mapping({"symbology": "pdf417", "pattern": "(?P<id>.+)",
                                    "issuer": "A"})
    assert fmt.role == "patient"
