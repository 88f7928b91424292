"""The practice's web UI: clinicians find a patient and see every photo and document.

Served by ``capture-receiver serve`` on its own HTTPS port (``--ui-port``) with the receiver's
certificate. It reads the patient-file index (:mod:`practice.patientfile`) and the receiver's
station table, writes the practice audit log, and keeps the station UI's security bar with the
same :mod:`websecurity` pieces (accounts, sessions, CSRF, no script, headers, throttling).
:mod:`.app` assembles; the views are :mod:`.patients` (find, file, compare), :mod:`.media`
(images and downloads), :mod:`.records` (retracted items, consent) and :mod:`.admin`
(stations, audit log).
"""
