"""Every SQL statement of the patient-file index, in one place (sqlite-utils for the schema).

The index is a cache of what is on disk (sidecars, histories, the consent file of each
patient folder): :func:`practice.patientfile.rebuild.rebuild` recreates it from the files.
Tables:

``patients``      one row per (issuer, patient_id): counts and first/last capture, kept
                  current by :func:`refresh_patient` whenever one of its items changes.
``items``         one row per capture or document: current tags, state, paths.
``amendments``    one row per applied amendment or retraction (the history).
``withdrawals``   consent withdrawals recorded by records officers.

Indexes match the queries: a patient's items by time, items of a body site and laterality
for compare, recent items overall and per station, patients by id (exact and prefix).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

ITEM_COLUMNS = {
    "item_id": str, "kind": str, "issuer": str, "patient_id": str, "encounter": str,
    "session_id": str, "sequence": int, "captured_at": str, "day": str, "body_site": str,
    "laterality": str, "consent": str, "emergency_override": int, "operator": str,
    "note": str, "provenance": str, "station_id": str, "station_name": str,
    "clock_synced": int, "received_at": str, "state": str, "retraction_id": str,
    "retracted_at": str, "retracted_by": str, "retraction_reason": str,
    "retraction_received_at": str, "file_path": str, "thumb_path": str,
    "sidecar_path": str, "history_path": str, "sha256": str, "pages": int,
    "amendments": int, "amended_at": str, "original_json": str,
    "document_type": str, "consent_form": str, "page_thumbs_json": str,
}
ITEM_FIELDS = tuple(ITEM_COLUMNS)

SELECT_ITEMS = f"SELECT {', '.join(ITEM_FIELDS)} FROM items"  # noqa: S608 (constant)

PATIENT_FIELDS = ("issuer", "patient_id", "ref", "captures", "documents", "retracted",
                  "first_captured_at", "last_captured_at")
SELECT_PATIENTS = f"SELECT {', '.join(PATIENT_FIELDS)} FROM patients"  # noqa: S608

AMENDMENT_FIELDS = ("amendment_id", "at", "operator", "station_id", "received_at", "retract",
                    "reason", "changes_json")

WITHDRAWAL_FIELDS = ("withdrawal_id", "issuer", "patient_id", "withdraws", "recorded_by",
                     "recorded_at", "reason")

INDEXES = (
    ("items", ("issuer", "patient_id", "state", "captured_at")),
    ("items", ("issuer", "patient_id", "body_site", "laterality", "captured_at")),
    ("items", ("received_at",)),
    ("items", ("station_id", "received_at")),
    ("items", ("state", "retraction_received_at")),
    ("patients", ("patient_id",)),
    ("patients", ("ref",)),
    ("patients", ("last_captured_at",)),
    ("amendments", ("item_id", "at")),
    ("withdrawals", ("issuer", "patient_id")),
)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with durable commits; the schema made if missing."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    db = sqlite_utils.Database(conn)
    db["items"].create(ITEM_COLUMNS, pk="item_id", if_not_exists=True)
    known = set(db["items"].columns_dict)
    for name, kind in ITEM_COLUMNS.items():  # an index made by an older version
        if name not in known:
            db["items"].add_column(name, kind)
    db["patients"].create({
        "issuer": str, "patient_id": str, "ref": str, "captures": int, "documents": int,
        "retracted": int, "first_captured_at": str, "last_captured_at": str,
    }, pk=("issuer", "patient_id"), if_not_exists=True)
    db["amendments"].create({
        "amendment_id": str, "item_id": str, "at": str, "operator": str, "station_id": str,
        "received_at": str, "retract": int, "reason": str, "changes_json": str,
    }, pk="amendment_id", if_not_exists=True)
    db["withdrawals"].create({
        "withdrawal_id": int, "issuer": str, "patient_id": str, "withdraws": str,
        "recorded_by": str, "recorded_at": str, "reason": str,
    }, pk="withdrawal_id", if_not_exists=True)
    for table, columns in INDEXES:
        db[table].create_index(columns, if_not_exists=True)
    path.chmod(0o600)
    return conn


def upsert_item(conn: sqlite3.Connection, row: dict, amendments: list[dict]) -> None:
    """Replace one item's row and its history (one transaction), then its patient's row."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        old = conn.execute("SELECT issuer, patient_id FROM items WHERE item_id = ?",
                           (row["item_id"],)).fetchone()
        placeholders = ", ".join("?" for _ in ITEM_FIELDS)
        conn.execute(f"INSERT OR REPLACE INTO items ({', '.join(ITEM_FIELDS)}) "  # noqa: S608
                     f"VALUES ({placeholders})", [row.get(k) for k in ITEM_FIELDS])
        conn.execute("DELETE FROM amendments WHERE item_id = ?", (row["item_id"],))
        conn.executemany(
            "INSERT OR REPLACE INTO amendments (amendment_id, item_id, at, operator, "
            "station_id, received_at, retract, reason, changes_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a["amendment_id"], row["item_id"], a.get("at"), a.get("operator"),
              a["station_id"], a["received_at"], int(bool(a.get("retract"))), a.get("reason"),
              a["changes_json"]) for a in amendments])
        refresh_patient(conn, row["issuer"], row["patient_id"], row["ref"])
        if old is not None and tuple(old) != (row["issuer"], row["patient_id"]):
            refresh_patient(conn, old[0], old[1], None)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def refresh_patient(conn: sqlite3.Connection, issuer: str, patient_id: str,
                    ref: str | None) -> None:
    """Recount one patient's row from its items (inside the caller's transaction)."""
    counts = conn.execute(
        "SELECT SUM(kind = 'capture' AND state = 'current'), "
        "SUM(kind = 'document' AND state = 'current'), SUM(state = 'retracted'), "
        "MIN(CASE WHEN state = 'current' THEN captured_at END), "
        "MAX(CASE WHEN state = 'current' THEN captured_at END), COUNT(*) "
        "FROM items WHERE issuer = ? AND patient_id = ?", (issuer, patient_id)).fetchone()
    if not counts[5]:
        conn.execute("DELETE FROM patients WHERE issuer = ? AND patient_id = ?",
                     (issuer, patient_id))
        return
    if ref is None:
        found = conn.execute("SELECT ref FROM patients WHERE issuer = ? AND patient_id = ?",
                             (issuer, patient_id)).fetchone()
        ref = found[0] if found else ""
    conn.execute(
        "INSERT OR REPLACE INTO patients (issuer, patient_id, ref, captures, documents, "
        "retracted, first_captured_at, last_captured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (issuer, patient_id, ref, counts[0] or 0, counts[1] or 0, counts[2] or 0,
         counts[3], counts[4]))


# -- queries ----------------------------------------------------------------------------------

PATIENT_EXACT = SELECT_PATIENTS + " WHERE patient_id = ? ORDER BY issuer LIMIT ?"
PATIENT_EXACT_ISSUER = SELECT_PATIENTS + " WHERE patient_id = ? AND issuer = ?"
#: Prefix search as a range on the index (``LIKE`` would scan: ids are case-sensitive).
PATIENT_PREFIX = (SELECT_PATIENTS + " WHERE patient_id >= ? AND patient_id < ? "
                  "AND patient_id != ? ORDER BY patient_id, issuer LIMIT ?")
PATIENT_BY_REF = SELECT_PATIENTS + " WHERE ref = ?"
PATIENTS_RECENT = SELECT_PATIENTS + " ORDER BY last_captured_at DESC LIMIT ?"

PATIENT_ITEMS = (SELECT_ITEMS + " WHERE issuer = ? AND patient_id = ? AND state = ? "
                 "ORDER BY captured_at DESC, item_id DESC")
ITEM = SELECT_ITEMS + " WHERE item_id = ?"
ITEM_HISTORY = ("SELECT " + ", ".join(AMENDMENT_FIELDS) + " FROM amendments "  # noqa: S608
                "WHERE item_id = ? ORDER BY at, amendment_id")
SAME_SITE = (SELECT_ITEMS + " WHERE issuer = ? AND patient_id = ? AND body_site IS ? "
             "AND laterality IS ? AND state = 'current' AND kind = 'capture' "
             "AND (captured_at < ? OR (captured_at = ? AND item_id < ?)) "
             "ORDER BY captured_at DESC, item_id DESC LIMIT ?")
RECENT = (SELECT_ITEMS + " WHERE state = 'current' AND (received_at < ? OR "
          "(received_at = ? AND item_id < ?)) ORDER BY received_at DESC, item_id DESC LIMIT ?")
RECENT_STATION = (SELECT_ITEMS + " WHERE station_id = ? AND state = 'current' AND "
                  "(received_at < ? OR (received_at = ? AND item_id < ?)) "
                  "ORDER BY received_at DESC, item_id DESC LIMIT ?")
RETRACTED = (SELECT_ITEMS + " WHERE state = 'retracted' AND (retraction_received_at < ? OR "
             "(retraction_received_at = ? AND item_id < ?)) "
             "ORDER BY retraction_received_at DESC, item_id DESC LIMIT ?")
STATION_COUNTS = ("SELECT station_id, COUNT(*), MAX(received_at) FROM items "
                  "GROUP BY station_id")

WITHDRAWALS = ("SELECT " + ", ".join(WITHDRAWAL_FIELDS) + " FROM withdrawals "  # noqa: S608
               "WHERE issuer = ? AND patient_id = ? ORDER BY recorded_at, withdrawal_id")
INSERT_WITHDRAWAL = ("INSERT OR REPLACE INTO withdrawals (withdrawal_id, issuer, patient_id, "
                     "withdraws, recorded_by, recorded_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)")
NEXT_WITHDRAWAL_ID = "SELECT COALESCE(MAX(withdrawal_id), 0) + 1 FROM withdrawals"
CLEAR = ("DELETE FROM items", "DELETE FROM patients", "DELETE FROM amendments",
         "DELETE FROM withdrawals")
