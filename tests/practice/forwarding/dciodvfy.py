"""Run dciodvfy (dicom3tools) on an instance; the errors it reports, one per line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                    reason="dciodvfy (Debian package dicom3tools) is not "
                                    "installed; `make test` installs it")


def dciodvfy_errors(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True,
                            timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


def check_dciodvfy(path: Path, iod: str) -> None:
    """No error, and dciodvfy recognised the instance as ``iod``."""
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True,
                            timeout=60)
    output = result.stdout + result.stderr
    assert iod in output, output
    errors = [line for line in output.splitlines() if "Error" in line]
    assert not errors, "\n".join(errors)
