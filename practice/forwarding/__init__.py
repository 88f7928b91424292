"""Forwarding filed captures into the hospital's systems: DICOM to a PACS, FHIR to an EHR.

One job per module:

- :mod:`.filed` reads what filing left on disk (payload + sidecar + amendment notes) into one
  :class:`~.filed.FiledCapture`, with the amendments applied in order;
- :mod:`.codes` and :mod:`.uids` hold the coded vocabulary (SNOMED CT, DCM) and the
  deterministic UIDs, so a resend is byte-for-byte the same instance;
- :mod:`.dicom` builds the instances (VL Photographic Image, Encapsulated PDF, IOCM rejection
  note), :mod:`.fhir` the FHIR resources (Media, DocumentReference);
- :mod:`.config` reads ``DIR/forwarding.toml``; :mod:`.transport` is the one HTTP(S) client
  (basic auth, client certificate, CA file or pinned certificate);
- :mod:`.queue` is the durable store-and-forward queue (SQLite), :mod:`.forwarder` the worker
  that drains it, :mod:`.delivery` what one delivery sends to one destination.

docs/forwarding.md describes the behaviour; docs/scale.md the measured limits.
"""
