"""forwarding.toml: any hostile value gives ForwardingConfigError naming the key, no crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practice.forwarding.config import ForwardingConfigError, load_config
from tests.hostile import HOSTILE_TOML_VALUES, toml_values

#: A minimal valid file (destination first, so a value set at the top lands in it).
BASE = """
[[destination]]
url = "https://archive.example/dicom-web"
kind = "dicomweb"
name = "archive"
[retry]
max_s = 120
initial_s = 5
"""
#: (section line, key) places a value can go.
PLACES = [("", "institution"), ("[retry]", "initial_s"), ("[retry]", "max_s"),
          ("[[destination]]", "timeout_s"), ("[[destination]]", "url"),
          ("[[destination]]", "failover_urls"), ("[[destination]]", "pinned_sha256"),
          ("[[destination]]", "name"), ("[[destination]]", "username")]


def text_with(section: str, key: str, value: str) -> str:
    lines = [line for line in BASE.splitlines() if not line.startswith(f"{key} = ")]
    at = lines.index(section) + 1 if section else 0
    lines.insert(at, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def load(tmp_path, text):
    (tmp_path / "forwarding.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


@pytest.mark.parametrize("value", [v for v in HOSTILE_TOML_VALUES if v != "[]"],  # no failover
                         ids=lambda v: v[:16])
@pytest.mark.parametrize(("section", "key"), PLACES)
def test_hostile_values_give_config_errors(tmp_path, section, key, value):
    with pytest.raises(ForwardingConfigError):
        load(tmp_path, text_with(section, key, value))


@pytest.mark.parametrize("value", ["9" * 4000, "nan", "-inf", "1e400"])
def test_numbers_name_their_key(tmp_path, value):
    with pytest.raises(ForwardingConfigError, match="timeout_s"):
        load(tmp_path, text_with("[[destination]]", "timeout_s", value))


def test_invalid_utf8_is_a_config_error(tmp_path):
    (tmp_path / "forwarding.toml").write_bytes(b'institution = "\xc3\x28"\n')
    with pytest.raises(ForwardingConfigError, match="cannot read"):
        load_config(tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PLACES), toml_values)
def test_any_value_anywhere_is_accepted_or_a_config_error(tmp_path_factory, place, value):
    try:
        load(tmp_path_factory.mktemp("fwd"), text_with(*place, value))
    except ForwardingConfigError:
        pass
