"""What a decoder found in a frame, in a backend-neutral shape.

The decoded text may be a patient identifier, so :class:`SymbolRead`'s ``repr`` hides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The symbologies the station reads (same names as the ``[barcode] formats`` config key).
SYMBOLOGIES = ("code128", "qrcode", "datamatrix", "pdf417")


@dataclass(frozen=True, repr=False)
class SymbolRead:
    """One symbol decoded from one frame.

    ``gs1`` is True when the decoder saw the GS1 flag (FNC1 in first position), False when it
    saw that the flag was absent, and None when the backend cannot tell (zbar drops it).
    ``symbology_id`` is the ISO/IEC 15424 identifier when the backend reports it (``]d2``).
    ``box`` is where the symbol lies in the frame it was decoded from, ``(left, top, right,
    bottom)`` in pixels, when the backend reports it; it takes no part in equality.
    """

    symbology: str
    text: str
    gs1: bool | None
    backend: str
    symbology_id: str | None = None
    box: tuple[int, int, int, int] | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return (
            f"SymbolRead(symbology={self.symbology!r}, text=<{len(self.text)} chars>, "
            f"gs1={self.gs1!r}, backend={self.backend!r}, symbology_id={self.symbology_id!r})"
        )

    __str__ = __repr__
