"""The one error base of the barcode package.

Every exception barcode raises on purpose derives from :class:`BarcodeError`, so a caller
(the station's scan loop, the CLI) can tell "this barcode or this decoder setup is unusable"
from a bug or a camera fault with one ``except``. The concrete classes also keep the builtin
base they always had (``ValueError``, ``RuntimeError``), so existing handlers still match.
"""

from __future__ import annotations


class BarcodeError(Exception):
    """Base of every error the barcode package raises deliberately."""


class BarcodeConfigError(BarcodeError, ValueError):
    """A ``[barcode]`` setting (symbologies, backends, local formats, rates) is unusable."""
