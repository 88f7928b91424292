"""Camera frames to barcode symbols to identities (patients, caregivers, command cards).

The public surface, for the workflow and the CLI:

* :func:`barcode.reader.build_reader` / :class:`barcode.reader.Reader` with ``feed(frame)``
  returning ``PatientIdentified``, ``CaregiverIdentified``, ``CommandRead``, ``Conflict`` and
  ``InvalidRead`` events (all in :mod:`barcode.reader`);
* :class:`barcode.identity.Identity` (safe ``repr``: never shows the id);
* :mod:`barcode.commands` (card payloads) and :mod:`barcode.sheet` (the printable card sheet,
  drawn through :mod:`barcode.drawing` into a PDF or an image);
* :mod:`barcode.gs1` (check digits and element strings).

``barcode`` imports nothing from ``appliance``: it takes plain values.
"""
