"""The sealed capture vault: nothing readable at rest, nothing lost on a power cut.

Public surface:

* :class:`Vault` (``store_capture``, ``list_captures``, ``open_for_review``, ``amend``,
  ``discard``, ``shred_due``, ``tick`` and the :class:`sync.outbox.Outbox` methods);
* errors: :class:`VaultError` and what derives from it (:class:`DiskFullError`,
  :class:`UnknownCaptureError`, :class:`NotReviewableError`, :class:`JpegError`), and the
  enrolment's :class:`NotEnrolledError`;
* :class:`AuditLog` (``record(event, **fields)``) and :func:`verify_audit_log`;
* :func:`load_or_create_identity` (the station's Ed25519 key and id).
"""

from sync.audit import AuditLog, VerifyResult
from sync.audit import verify as verify_audit_log

from .errors import (
    DiskFullError,
    JpegError,
    NotEnrolledError,
    NotReviewableError,
    UnknownCaptureError,
    VaultError,
)
from .exif import strip_identifying_metadata
from .keys import SessionKeys, StationIdentity, load_or_create_identity
from .records import CaptureRecord, CaptureSummary, ReviewCapture
from .vault import Vault

__all__ = [
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
