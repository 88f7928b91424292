"""The base of the errors of the shared web pieces (accounts and their command line)."""

from __future__ import annotations


class WebSecurityError(Exception):
    """An account or web-security operation was refused; the message says why."""
