"""The station's record of which practice it belongs to, written once at enrolment.

It holds only public material (the practice's X25519 key that captures are sealed to, the
receiver's pin and receipt-signing key), so it may sit on the SD card unencrypted.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sync.durable import write_durably

from .errors import StationError
from .paths import StatePaths

if TYPE_CHECKING:  # only for the annotation: importing sync.enrol pulls in the HTTPS client
    from sync.enrol import EnrolResult


class NotEnrolledError(StationError, RuntimeError):
    """The station has no practice key yet: captures are refused until it is enrolled."""

    def __init__(self) -> None:
        super().__init__("station not enrolled")


@dataclass(frozen=True)
class Enrolment:
    station_id: str
    receiver_name: str
    receiver_pin: str
    practice_public_key: str  # base64 of the raw 32-byte X25519 public key
    receipt_public_key: str = ""  # base64 of the receiver's raw Ed25519 public key
    enrolled_at: str = ""

    @property
    def practice_key_bytes(self) -> bytes:
        return base64.b64decode(self.practice_public_key)


def enrolment_from_result(result: EnrolResult) -> Enrolment:
    """The record to save from a successful :func:`sync.enrol.enrol`."""
    return Enrolment(
        station_id=result.station_id,
        receiver_name=result.receiver_name,
        receiver_pin=result.receiver_pin,
        practice_public_key=base64.b64encode(result.practice_public_key).decode(),
        receipt_public_key=base64.b64encode(result.receipt_public_key).decode(),
        enrolled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def load_enrolment(paths: StatePaths) -> Enrolment | None:
    """The enrolment, or None when the station has not been enrolled (or the file is damaged)."""
    try:
        data = json.loads(paths.enrolment.read_text(encoding="utf-8"))
        enrolment = Enrolment(**data)
        if len(enrolment.practice_key_bytes) != 32:
            return None
        return enrolment
    except (OSError, ValueError, TypeError):
        return None


def save_enrolment(paths: StatePaths, enrolment: Enrolment) -> None:
    """Write the record durably (a power cut leaves no enrolment or the whole one), 0600."""
    paths.ensure()
    write_durably(paths.enrolment, json.dumps(asdict(enrolment), indent=2).encode(), 0o600)
