"""What can go wrong turning a photo into a page, as errors the operator can act on.

Messages say what to do (move the page into view, add light) and never carry anything read
from the page: a document may hold a patient's name.
"""

from __future__ import annotations


class DocumentError(ValueError):
    """A photo or a page cannot be made into a document page."""


class PageNotFoundError(DocumentError):
    """No whole page is visible in the photo; the message says why."""


class ImageUnreadableError(DocumentError):
    """The bytes are not an image this station can decode."""
