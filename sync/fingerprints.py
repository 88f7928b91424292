"""The one way a SHA-256 fingerprint or pin is written: 64 lower-case hex digits.

The receiver's pin (SHA-256 of its TLS key, in provisioning files, mDNS and
``enrolment.json``), a web UI certificate's fingerprint (shown by ``doctor``, ``run``,
``serve`` and the Station page) and a forwarding destination's ``pinned_sha256`` are all shown
in this form, so IT compares like with like. Where a person types one, the forms already in
circulation are accepted as well: upper case, and pairs separated by colons or spaces, as
browsers show a certificate's fingerprint (``9F:86:D0:...`` or ``9F 86 D0 ...``).
"""

from __future__ import annotations

import hashlib
import re

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SEPARATORS = re.compile(r"[:\s]")


def sha256_fingerprint(data: bytes) -> str:
    """The fingerprint of ``data`` (a DER certificate, a DER public key) in the one form."""
    return hashlib.sha256(data).hexdigest()


def parse_fingerprint(text: str) -> str:
    """A typed fingerprint in the one form; ``ValueError`` if it is not a SHA-256 one.

    Accepts 64 hex digits in either case, with or without colons or spaces between them."""
    value = _SEPARATORS.sub("", text).lower() if isinstance(text, str) else ""
    if _HEX64.fullmatch(value):
        return value
    raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons or spaces between "
                     "them are allowed)")
