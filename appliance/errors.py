"""The base of every error the station's own code raises (``appliance`` and its subpackages).

Callers that only need "the station failed, here is why" catch :class:`StationError`; those
that must react differently (a full disk, a bad config, a missing enrolment) catch the
subclass. Each subclass also keeps the built-in class describing its nature.
"""

from __future__ import annotations


class StationError(Exception):
    """The station could not do what was asked; the message says what to do about it."""
