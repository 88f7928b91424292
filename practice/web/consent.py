"""What a capture's consent allows: the rule a download or export is checked against.

A capture is always available for the patient's care (``clinical``); ``teaching`` needs the
patient's consent to teaching or publication, ``publication`` needs consent to publication.
The consent checked is the capture's *effective* consent (what was recorded, after
amendments and after any withdrawal a records officer recorded since), so a withdrawal takes
effect at once. An emergency override or a missing consent allows clinical use only.
"""

from __future__ import annotations

PURPOSES = ("clinical", "teaching", "publication")
#: Purpose -> the consent levels that allow it (None: any, even none recorded).
ALLOWED_BY: dict[str, frozenset[str] | None] = {
    "clinical": None,
    "teaching": frozenset({"teaching", "publication"}),
    "publication": frozenset({"publication"}),
}
LABELS = {
    "record-only": "record only",
    "teaching": "teaching",
    "publication": "publication",
    "emergency-override": "emergency override (record only)",
}


def permits(consent: str | None, purpose: str) -> bool:
    """True if a capture whose effective consent is ``consent`` may be used for ``purpose``.

    An unknown purpose is never permitted (a tampered form asks for nothing it can get).
    """
    if purpose not in ALLOWED_BY:
        return False
    allowed = ALLOWED_BY[purpose]
    return allowed is None or consent in allowed


def label(consent: str | None) -> str:
    return LABELS.get(consent or "", "not recorded")
