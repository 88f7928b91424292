"""Who a barcode says is in the room: a patient or a caregiver, with where the id came from.

An :class:`Identity` carries a patient identifier, so its ``repr``/``str`` never show the id or
the encounter: identities end up in log lines and exception messages by accident, and the
design forbids patient identifiers there. Code that must send the id somewhere (the sealed
metadata, the ``scan`` command's output) reads the attributes explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["patient", "caregiver"]

#: Provenance values: the identity came from a GS1 element string, or a configured local format.
SCANNED_GS1 = "scanned-gs1"
SCANNED_LOCAL = "scanned-local"

GS1_ISSUER = "GS1"


@dataclass(frozen=True, repr=False)
class Identity:
    """A patient or caregiver identifier as read from a barcode.

    ``issuer`` scopes ``id`` (``"GS1"`` for a GSRN, or a configured issuer such as a hospital's
    MRN namespace); ``encounter`` is the SRIN (AI 8019) or a local format's ``encounter`` group.
    """

    role: Role
    id: str
    issuer: str
    encounter: str | None = None
    provenance: str = SCANNED_GS1

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two reads the same person: role, issuer and id (not the encounter)."""
        return (self.role, self.issuer, self.id)

    def compatible(self, other: Identity) -> bool:
        """Same person, and the encounters do not contradict each other."""
        return self.key == other.key and (
            self.encounter is None or other.encounter is None or self.encounter == other.encounter
        )

    def merged(self, other: Identity) -> Identity:
        """``self`` with the encounter filled in from a compatible ``other``."""
        if self.encounter is None and other.encounter is not None:
            return Identity(self.role, self.id, self.issuer, other.encounter, self.provenance)
        return self

    def __repr__(self) -> str:
        encounter = "set" if self.encounter is not None else "none"
        return (
            f"Identity(role={self.role!r}, issuer={self.issuer!r}, id=<{len(self.id)} chars>, "
            f"encounter=<{encounter}>, provenance={self.provenance!r})"
        )

    __str__ = __repr__
