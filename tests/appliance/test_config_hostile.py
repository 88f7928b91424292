"""The station config refuses hostile TOML with ConfigError (naming the key), never a crash.

``nan`` passes every ``min <= x <= max`` comparison, so before this check
``review_window_hours = nan`` meant delivered captures were probably never shredded.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.config import SCHEMA, ConfigError, load_config
from tests.hostile import HOSTILE_TOML_VALUES, toml_values

FLOAT_KEYS = [(section, key) for section, keys in SCHEMA.items()
              for key, setting in keys.items() if setting.kind is float]
NUMERIC_KEYS = [(section, key) for section, keys in SCHEMA.items()
                for key, setting in keys.items() if setting.kind in (int, float)]


def load_text(tmp_path, text: str, environ: dict | None = None):
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ=environ or {})


def test_every_float_setting_is_covered():
    assert ("vault", "review_window_hours") in FLOAT_KEYS and len(FLOAT_KEYS) >= 6


@pytest.mark.parametrize(("section", "key"), NUMERIC_KEYS)
@pytest.mark.parametrize("literal", ["nan", "-nan", "inf", "-inf", "1e400"])
def test_nan_and_infinities_are_refused_naming_the_key(tmp_path, section, key, literal):
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, f"[{section}]\n{key} = {literal}\n")
    assert caught.value.problems and caught.value.problems[0].startswith(f"[{section}] {key} ")


@pytest.mark.parametrize("literal", ["nan", "inf", "-inf", "1e999"])
def test_nan_from_the_environment_is_refused_too(tmp_path, literal):
    with pytest.raises(ConfigError, match=r"\[vault\] review_window_hours"):
        load_text(tmp_path, "", {"CAPTURE_STATION_VAULT_REVIEW_WINDOW_HOURS": literal})


@pytest.mark.parametrize(("section", "key"), NUMERIC_KEYS)
def test_huge_integers_are_refused_with_a_short_message(tmp_path, section, key):
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, f"[{section}]\n{key} = {'9' * 4000}\n")
    message = str(caught.value)
    assert f"[{section}] {key}" in message and "9" * 100 not in message


@pytest.mark.parametrize("text", [
    "[vault]\nreserve_mb = " + "9" * 5000 + "\n",
    "[barcode]\nformats = " + "[" * 5000 + "]" * 5000 + "\n",
    "[station]\nname = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n",
    "[station]\nname = 'a'\nname = 'b'\n",
    "[barcode]\nlocal_formats = [{symbology = 'code128', issuer = 'x', pattern = '(?P<id>"
    + "(" * 5000 + ")" * 5000 + ")'}]\n",
    "[barcode]\nlocal_formats = [{symbology = 'code128', issuer = 'x', pattern = "
    "'(?P<id>a{99999999999999999999})'}]\n",
])
def test_hostile_documents_give_config_errors(tmp_path, text):
    with pytest.raises(ConfigError):
        load_text(tmp_path, text)


def test_invalid_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "station.toml"
    path.write_bytes(b"[station]\nname = \"\xc3\x28\"\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(path, environ={})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([(s, k) for s, keys in SCHEMA.items() for k in keys]),
       toml_values | st.sampled_from(HOSTILE_TOML_VALUES))
def test_any_value_for_any_key_is_accepted_or_a_config_error(tmp_path_factory, where, value):
    section, key = where
    path = tmp_path_factory.mktemp("cfg") / "station.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n", encoding="utf-8")
    try:
        cfg = load_config(path, environ={})
    except ConfigError as exc:
        assert len(str(exc)) < 2000
        return
    setting = SCHEMA[section][key]
    got = cfg.as_dict()[section][key]
    if setting.kind is float:  # whatever was accepted is a finite number within bounds
        assert setting.min <= got <= setting.max


def test_a_huge_integer_from_the_environment_is_refused_briefly(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, "", {"CAPTURE_STATION_VAULT_RESERVE_MB": "9" * 5000})
    assert "[vault] reserve_mb" in str(caught.value) and "9" * 100 not in str(caught.value)
