"""The words a nurse reads on the station's pages, for the codes the workflow and vault use.

Codes (``needs_consent``, ``scanned-gs1``, ``queued``) stay in the audit log and the metadata;
pages show what they mean. Unknown codes are shown readably (underscores as spaces), so a new
state never breaks a page.
"""

from __future__ import annotations

#: The station's steady light (workflow signal) as (dot class, sentence).
STATION_STATE = {
    "idle": ("idle", "Waiting for a wristband"),
    "ready": ("ok", "Ready: press the button to take a photo"),
    "needs_consent": ("warn", "Set the consent before the first photo"),
    "capturing": ("ok", "Taking a photo…"),
    "not_enrolled": ("bad", "Not connected to a practice yet (not enrolled): photos are refused"),
    "disk_full": ("bad", "The disk is full: photos are refused"),
    "camera_fault": ("bad", "Camera fault: photos are refused"),
}
#: The workflow's state, when its signal is not one of the above.
WORKFLOW_STATE = {
    "idle": ("idle", "Waiting for a wristband"),
    "session": ("ok", "Patient identified"),
    "capturing": ("ok", "Taking a photo…"),
}
PROVENANCE = {
    "scanned-gs1": "wristband barcode (GS1)",
    "scanned-local": "wristband barcode (this hospital's format)",
}
DELIVERY = {
    "queued": "waiting to send",
    "sending": "sending",
    "delivered": "at the practice",
    "rejected": "refused by the practice",
    "lost": "lost (file missing)",
    "discarded": "discarded",
}


def _readable(code: object) -> str:
    return str(code).replace("_", " ").replace("-", " ") if code else ""


def station_state(signal: str | None, state: str | None) -> tuple[str, str]:
    """(dot class, sentence) for the status page."""
    if signal in STATION_STATE:
        return STATION_STATE[signal]
    if state in WORKFLOW_STATE:
        return WORKFLOW_STATE[state]
    return ("warn", _readable(signal or state) or "unknown")


def provenance_label(code: object) -> str:
    return PROVENANCE.get(str(code), _readable(code) or "not recorded")


def delivery_label(code: object) -> str:
    return DELIVERY.get(str(code), _readable(code) or "unknown")


def code_label(code: object) -> str:
    """A tag value (consent level, body site) for reading: ``emergency-override`` ->
    ``emergency override``."""
    return _readable(code)
