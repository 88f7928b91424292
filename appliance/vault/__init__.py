"""The sealed capture vault: nothing readable at rest, nothing lost on a power cut.

Public surface:

* :class:`Vault` (``store_capture``, ``list_captures``, ``open_for_review``, ``amend``,
  ``discard``, ``shred_due``, ``tick`` and the :class:`sync.outbox.Outbox` methods);
* errors :class:`VaultError`, :class:`DiskFullError`, :class:`NotEnrolledError`,
  :class:`UnknownCaptureError`, :class:`NotReviewableError`;
* :class:`AuditLog` (``record(event, **fields)``) and :func:`verify_audit_log`;
* :func:`load_or_create_identity` (the station's Ed25519 key and id).
"""

from .audit import AuditFieldError, AuditLog, VerifyResult
from .audit import verify as verify_audit_log
from .errors import (
    DiskFullError,
    NotEnrolledError,
    NotReviewableError,
    UnknownCaptureError,
    VaultError,
)
from .exif import JpegError, strip_identifying_metadata
from .keys import SessionKeys, StationIdentity, load_or_create_identity
from .vault import CaptureRecord, CaptureSummary, ReviewCapture, Vault

__all__ = [
    "AuditFieldError",
    "AuditLog",
    "CaptureRecord",
    "CaptureSummary",
    "DiskFullError",
    "JpegError",
    "NotEnrolledError",
    "NotReviewableError",
    "ReviewCapture",
    "SessionKeys",
    "StationIdentity",
    "UnknownCaptureError",
    "Vault",
    "VaultError",
    "VerifyResult",
    "load_or_create_identity",
    "strip_identifying_metadata",
    "verify_audit_log",
]
