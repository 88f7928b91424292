"""The station's audit log is :mod:`sync.audit` (one implementation, shared with the
practice); this name stays so the vault and its commands keep importing it from here."""

from sync.audit import (
    FORBIDDEN_FIELDS,
    GENESIS,
    AuditFieldError,
    AuditLog,
    VerifyResult,
    clean_fields,
    iter_lines,
    record_hash,
    tail,
    verify,
)

__all__ = [
    "FORBIDDEN_FIELDS",
    "GENESIS",
    "AuditFieldError",
    "AuditLog",
    "VerifyResult",
    "clean_fields",
    "iter_lines",
    "record_hash",
    "tail",
    "verify",
]
