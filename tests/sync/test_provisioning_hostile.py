"""The provisioning bundle's two parsers (TOML file, QR payload) give only BundleError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import provisioning as prov
from sync.provisioning import Admin, Bundle, BundleError
from tests.hostile import HOSTILE_JSON, HOSTILE_TOML_VALUES, json_values, toml_values

PIN = "ab" * 32
GOOD = Bundle(receiver_name="practice", receiver_pin=PIN, token="t" * 32,
              admin=Admin("it-admin", one_time_password="correct-horse-battery"))
GOOD_TOML = prov.to_toml(GOOD)
GOOD_QR = json.loads(prov.to_qr_payload(GOOD)[len(prov.QR_PREFIX):])
#: (table, key) places a value can go in the TOML form.
PLACES = [("", "version"), ("sync", "receiver_name"), ("sync", "receiver_pin"),
          ("enrolment", "token"), ("enrolment", "station_name"), ("enrolment", "expires_at"),
          ("admin", "name"), ("admin", "one_time_password")]
#: Settings are only shape-checked here (the station checks their values): what must never
#: pass is a value no setting can take.
SETTINGS = [("settings.vault", "reserve_mb"), ("settings.vault", "review_window_hours")]
NEVER_A_SETTING = ["nan", "+nan", "inf", "-inf", "1e400", "9" * 5000, "[" * 5000 + "]" * 5000,
                   "{a=" * 3000 + "1" + "}" * 3000, "[[[[[[1]]]]]]"]


def with_value(table: str, key: str, value: str) -> str:
    """GOOD_TOML with ``key = value`` set in ``[table]`` (replacing the key if present)."""
    lines = [line for line in GOOD_TOML.splitlines()
             if not line.startswith(f"{key} = ")] if table != "settings.vault" else \
        GOOD_TOML.splitlines()
    if table == "":
        return f"{key} = {value}\n" + "\n".join(lines) + "\n"
    if f"[{table}]" not in lines:
        lines.append(f"[{table}]")
    at = lines.index(f"[{table}]") + 1
    lines.insert(at, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def test_good_bundle_parses():
    assert prov.parse_toml(with_value("sync", "receiver_name", '"practice"')) == GOOD


@pytest.mark.parametrize("value", HOSTILE_TOML_VALUES, ids=lambda v: v[:16])
@pytest.mark.parametrize(("table", "key"), PLACES)
def test_hostile_toml_values_give_bundle_errors(table, key, value):
    with pytest.raises(BundleError) as caught:
        prov.parse_toml(with_value(table, key, value))
    assert "t" * 32 not in str(caught.value) and "correct-horse" not in str(caught.value)


@pytest.mark.parametrize("literal", NEVER_A_SETTING, ids=lambda v: v[:16])
@pytest.mark.parametrize(("table", "key"), SETTINGS)
def test_non_finite_huge_or_deep_settings_are_refused(table, key, literal):
    with pytest.raises(BundleError) as caught:
        prov.parse_toml(with_value(table, key, literal))
    assert "settings.vault" in str(caught.value) or "not valid TOML" in str(caught.value)


@pytest.mark.parametrize("data", HOSTILE_JSON, ids=lambda d: repr(d[:16]))
def test_hostile_qr_payloads_give_bundle_errors(data):
    with pytest.raises(BundleError):
        prov.parse_qr_payload(prov.QR_PREFIX + data.decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("fragment", ['"c": {"vault": {"review_window_hours": NaN}}',
                                      '"c": {"vault": {"review_window_hours": 1e999}}',
                                      '"t": "x", "t": "y"', '"c": ' + "[" * 50_000])
def test_qr_nan_duplicates_and_nesting_are_refused(fragment):
    text = prov.to_qr_payload(GOOD)[:-1] + ", " + fragment + "}"
    with pytest.raises(BundleError, match="not strict JSON"):
        prov.parse_qr_payload(text)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PLACES + SETTINGS), toml_values)
def test_any_toml_value_anywhere_gives_a_bundle_or_a_bundle_error(place, value):
    try:
        prov.parse_toml(with_value(*place, value))
    except BundleError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([*sorted(GOOD_QR), "c", "s", "e", "h"]), json_values)
def test_any_qr_field_value_gives_a_bundle_or_a_bundle_error(key, value):
    payload = prov.QR_PREFIX + json.dumps({**GOOD_QR, key: value})
    try:
        prov.parse_qr_payload(payload)
    except BundleError:
        pass
