"""The base of every error the practice server's own code raises.

Callers that only need "the practice server could not do it, here is why" catch
:class:`PracticeError`; the subclasses say what went wrong (keys, tokens, an HTTP refusal, a
forwarding destination) and keep the built-in class that describes their nature.
"""

from __future__ import annotations


class PracticeError(Exception):
    """The practice server could not do what was asked; the message says why."""
