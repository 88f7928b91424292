"""Packaging metadata that `pip install` reads: no deprecation banner on install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                          .read_text(encoding="utf-8"))


def test_license_is_an_spdx_expression_and_setuptools_understands_it():
    project = PYPROJECT["project"]
    # PEP 639: a string; the old table form makes setuptools >= 77 print a deprecation banner
    assert project["license"] == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    setuptools = next(r for r in PYPROJECT["build-system"]["requires"]
                      if r.startswith("setuptools"))
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert minimum and int(minimum.group(1)) >= 77  # the first release that reads the string
