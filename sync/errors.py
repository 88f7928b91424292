"""The base of every error the ``sync`` package raises, so a caller can catch them as one.

Each error also keeps the built-in class that describes its nature (a ``ConnectionError`` for a
receiver that cannot be reached, a ``ValueError`` for malformed input), so existing ``except``
clauses keep working; callers that must tell errors apart catch the subclass.
"""

from __future__ import annotations


class SyncError(Exception):
    """Something that crosses the wire (or prepares to) went wrong; the message says what."""
