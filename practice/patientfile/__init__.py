"""The patient file at the practice: every photo and document of a patient, current,
comparable, with its history -- the data side the practice web UI builds on.

Open :class:`PatientIndex` on the receiver's data directory (``DIR``). The receiver keeps it
current as it files (captures, documents, amendments, retractions, including ones that
arrived before their capture); :func:`rebuild` recreates it from disk. Records are typed,
frozen dataclasses (:mod:`practice.patientfile.model`); paths in them are relative to ``DIR``
and are turned into files with :meth:`PatientIndex.resolve`.

Queries (all fast on indexes: a 500-capture patient page and a search among 10,000 patients
take a few milliseconds, see tests/practice/test_patientfile_speed.py):

==========================================  ===================================================
``find_patients(text, issuer=None)``        by id: exact matches (every issuer), then prefix
``lookup_wristband(text, local_formats)``   what a desk USB scanner typed (GS1 / local / plain)
``patient(key)`` / ``patient_by_ref(ref)``  one patient's summary (``ref``: audit pseudonym)
``recent_patients(limit)``                  patients with the newest captures
``patient_file(key, state="current")``      visits newest first -> body-site groups -> captures
``capture(item_id)``                        one item, its original tags and amendment history
``compare(item_id)``                        it and the previous one of the same site+side
``latest_pair(key, body_site, laterality)`` the last two of one site and laterality
``recent(limit, station_id=, cursor=)``     newest received items, all or one station's (Page)
``retracted(limit, cursor=)``               quarantined items with reasons (records officers)
``withdrawals(key)``                        consent withdrawals of a patient
``record_withdrawal(key, uses, ...)``       a records officer records one (UI audits it)
``station_activity()``                      items and last delivery per station (fleet page)
==========================================  ===================================================

Station status (last seen, last delivery, queue depth, software version) is in
:class:`practice.store.ReceiverStore` (``stations()``); users in :mod:`practice.accounts`;
the audit log the UI writes to and pages through is :class:`practice.audit.PracticeAudit`.
"""

from .index import WITHDRAWABLE, PatientIndex
from .model import (
    Amendment,
    Capture,
    CaptureDetail,
    ConsentWithdrawal,
    Page,
    PatientFile,
    PatientKey,
    PatientSummary,
    Retraction,
    SiteGroup,
    Visit,
    WristbandLookup,
)
from .rebuild import rebuild

__all__ = [
    "WITHDRAWABLE",
    "Amendment",
    "Capture",
    "CaptureDetail",
    "ConsentWithdrawal",
    "Page",
    "PatientFile",
    "PatientIndex",
    "PatientKey",
    "PatientSummary",
    "Retraction",
    "SiteGroup",
    "Visit",
    "WristbandLookup",
    "rebuild",
]
