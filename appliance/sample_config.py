"""Render the commented sample configuration from the schema, so the two never drift apart.

``config/station.sample.toml`` is this module's output; a test checks the checked-in file is
current, and ``capture-station config sample`` prints it.
"""

from __future__ import annotations

import json
from typing import Any

from .config import SCHEMA, Setting

HEADER = """\
# capture-station configuration (TOML).
#
# Default location: /etc/capture-station/station.toml (or --config PATH, or
# $CAPTURE_STATION_CONFIG). Every key is optional; the values below are the defaults.
# Any key can also be set from the environment as CAPTURE_STATION_<SECTION>_<KEY>, e.g.
# CAPTURE_STATION_CAMERA_BACKEND=fake (lists: comma-separated).
#
# Unknown or misspelt keys, wrong types and out-of-range values stop the station with a
# message naming the key: a typo never silently switches off a safety setting.
"""

LOCAL_FORMAT_EXAMPLE = """\
# Local wristband formats (none by default: a random product barcode must never become a
# patient). Each entry: symbology, a regular expression with named groups (?P<id>...) and
# optionally (?P<issuer>...) / (?P<encounter>...), a role and an issuer.
#
# [[barcode.local_formats]]
# symbology = "code128"
# pattern = '^MRN(?P<id>\\d{6,10})$'
# role = "patient"
# issuer = "ST-MARY"
"""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r}")


def _comment(setting: Setting) -> str:
    return f"# {setting.help} ({setting.describe()})"


def render_sample() -> str:
    parts = [HEADER]
    for section, keys in SCHEMA.items():
        parts.append(f"\n[{section}]")
        for key, setting in keys.items():
            if key == "local_formats":
                continue
            parts.append(_comment(setting))
            parts.append(f"{key} = {toml_value(setting.default)}")
        if section == "barcode":
            parts.append("")
            parts.append(LOCAL_FORMAT_EXAMPLE.rstrip("\n"))
    return "\n".join(parts) + "\n"
