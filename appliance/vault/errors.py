"""Typed vault errors, so the workflow can show the right signal and the UI the right message.

Messages never contain a patient identifier, image bytes or key material.
"""

from __future__ import annotations

from sync.audit import AuditFieldError  # the shared audit log's error, re-exported

from ..enrolment import NotEnrolledError  # the enrolment's error, re-exported for callers


class VaultError(RuntimeError):
    """The vault cannot do what was asked; nothing already stored was harmed."""


class DiskFullError(VaultError):
    """Free space is below the configured reserve (or the disk is full): capture refused."""

    def __init__(self, message: str = "disk full: free space is below the reserve") -> None:
        super().__init__(message)


class UnknownCaptureError(VaultError):
    """No capture with that id is held on this station."""

    def __init__(self, capture_id: str) -> None:
        super().__init__(f"no capture {capture_id!r} on this station")
        self.capture_id = capture_id


class NotReviewableError(VaultError):
    """The capture cannot be opened here (sealed before this start, shredded or discarded)."""


class JpegError(VaultError):
    """The bytes are not a JPEG this station can store."""


__all__ = [
    "AuditFieldError",
    "DiskFullError",
    "JpegError",
    "NotEnrolledError",
    "NotReviewableError",
    "UnknownCaptureError",
    "VaultError",
]
