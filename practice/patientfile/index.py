"""The patient-file index: the receiver fills it as it files; the practice web UI queries it.

Open one :class:`PatientIndex` per process on the receiver's data directory (the file is
``DIR/patientfile.db``, WAL, 0600; the receiver and the web UI may share it across processes).
It is a cache of the files on disk (see :mod:`practice.filing`): :meth:`PatientIndex.ingest`
(re)reads one item's sidecar and history, :func:`practice.patientfile.rebuild.rebuild`
recreates the whole index. All SQL is in :mod:`practice.patientfile.db`.

Roles are the UI's business: this API offers every query (retracted items included) and
the UI decides who may call which. Nothing here writes the audit log either; the UI records
each search and view with :class:`practice.audit.PracticeAudit`, naming patients by
:attr:`PatientSummary.ref`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from barcode.interpret import Interpreter, LocalFormat
from barcode.symbols import SYMBOLOGIES, SymbolRead
from sync.durable import write_durably

from ..filing import capture_date, safe_component
from . import db
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
from .pseudonym import Pseudonyms

DB_NAME = "patientfile.db"
#: Uses a patient can withdraw consent for (a clinical record itself cannot be withdrawn).
WITHDRAWABLE = ("teaching", "publication")
#: The per-patient file that keeps withdrawals on disk (the index can be rebuilt from it).
CONSENT_FILE = "consent-withdrawals.json"
_CURSOR_SEP = "|"
_MAX_LIMIT = 500


class PatientIndex:
    """Query and update the patient-file index of one data directory. Thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.pseudonyms = Pseudonyms(self.data_dir)
        self._lock = threading.Lock()
        self._conn = db.connect(self.data_dir / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PatientIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing (receiver, rebuild) ------------------------------------------------------------

    def ingest(self, sidecar: Path) -> Capture:
        """(Re)index the item whose sidecar is ``sidecar`` (with its history); its record."""
        record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
        history = None
        if record.get("history_file"):
            history_path = Path(sidecar).with_name(record["history_file"])
            if history_path.exists():
                history = json.loads(history_path.read_text(encoding="utf-8"))
        row, amendments = self._row(Path(sidecar), record, history)
        with self._lock:
            db.upsert_item(self._conn, row, amendments)
        capture = self.capture(row["item_id"])
        assert capture is not None
        return capture.capture

    def record_withdrawal(self, key: PatientKey, withdraws: Sequence[str], *, recorded_by: str,
                          recorded_at: str, reason: str | None = None) -> ConsentWithdrawal:
        """Record that the patient withdrew consent for ``withdraws`` (from now on).

        Written durably to the patient folder's ``consent-withdrawals.json`` and to the index;
        the caller records the audit event (``consent.withdrawn``).
        """
        uses = tuple(sorted(set(withdraws)))
        if not uses or any(u not in WITHDRAWABLE for u in uses):
            raise ValueError(f"consent can be withdrawn for: {', '.join(WITHDRAWABLE)}")
        folder = self._patient_folder(key)
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        path = folder / CONSENT_FILE
        with self._lock:
            existing = _read_withdrawals(path)
            withdrawal_id = int(self._conn.execute(db.NEXT_WITHDRAWAL_ID).fetchone()[0])
            entry = {"withdrawal_id": withdrawal_id, "issuer": key.issuer,
                     "patient_id": key.patient_id, "withdraws": list(uses),
                     "recorded_by": recorded_by, "recorded_at": recorded_at, "reason": reason}
            write_durably(path, json.dumps([*existing, entry], indent=2, sort_keys=True,
                                           ensure_ascii=False).encode(), 0o640)
            self._insert_withdrawals([entry])
        return _withdrawal(entry)

    def ingest_withdrawals(self, path: Path) -> int:
        """Index a patient folder's consent file (rebuild); how many withdrawals it holds."""
        entries = _read_withdrawals(path)
        with self._lock:
            self._insert_withdrawals(entries)
        return len(entries)

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        with self._lock:
            for statement in db.CLEAR:
                self._conn.execute(statement)

    # -- patients -----------------------------------------------------------------------------

    def find_patients(self, text: str, issuer: str | None = None,
                      limit: int = 20) -> list[PatientSummary]:
        """Patients whose id is ``text`` (first, every issuer unless one is given), then
        those whose id starts with it. Ids are matched exactly as filed (case matters)."""
        text = text.strip()
        limit = _limit(limit)
        if not text:
            return []
        with self._lock:
            if issuer is not None:
                rows = self._conn.execute(db.PATIENT_EXACT_ISSUER, (text, issuer)).fetchall()
            else:
                rows = self._conn.execute(db.PATIENT_EXACT, (text, limit)).fetchall()
            if len(rows) < limit:
                more = self._conn.execute(db.PATIENT_PREFIX, (text, text + "\U0010ffff", text,
                                                              limit - len(rows))).fetchall()
                rows += [r for r in more if issuer is None or r[0] == issuer]
        return [_summary(r) for r in rows[:limit]]

    def patient(self, key: PatientKey) -> PatientSummary | None:
        with self._lock:
            row = self._conn.execute(db.PATIENT_EXACT_ISSUER,
                                     (key.patient_id, key.issuer)).fetchone()
        return _summary(row) if row else None

    def patient_by_ref(self, ref: str) -> PatientSummary | None:
        """The patient an audit line's ``patient_ref`` names."""
        with self._lock:
            row = self._conn.execute(db.PATIENT_BY_REF, (ref,)).fetchone()
        return _summary(row) if row else None

    def recent_patients(self, limit: int = 20) -> list[PatientSummary]:
        """Patients with the newest captures first."""
        with self._lock:
            rows = self._conn.execute(db.PATIENTS_RECENT, (_limit(limit),)).fetchall()
        return [_summary(r) for r in rows]

    def lookup_wristband(self, text: str, local_formats: Iterable[LocalFormat] = (),
                         limit: int = 20) -> WristbandLookup:
        """What a desk USB scanner typed from a wristband, and the patients it names.

        GS1 element strings (with or without the ``]C1``/``]d2`` prefix, HRI parentheses or
        GS separators) give the GSRN (issuer ``GS1``) and encounter; ``local_formats`` are
        tried for every symbology they name (a keyboard scanner does not say which it read);
        anything else is searched as a plain identifier.
        """
        text = text.strip().replace("\r", "").replace("\n", "")
        formats = tuple(local_formats)
        interpreter = Interpreter(formats)
        symbologies = list(dict.fromkeys([f.symbology for f in formats] + [SYMBOLOGIES[0]]))
        result = None
        for symbology in symbologies:
            result = interpreter.interpret(SymbolRead(symbology, text, None, "keyboard"))
            if result.role != "unknown":
                break
        assert result is not None
        if result.role == "patient" and result.identity is not None:
            ident = result.identity
            key = PatientKey(ident.issuer, ident.id)
            found = self.patient(key)
            return WristbandLookup("patient", key, ident.encounter, [found] if found else [])
        if result.role in ("caregiver", "command", "invalid"):
            return WristbandLookup(result.role, None, None, [], result.error)
        return WristbandLookup("plain", None, None, self.find_patients(text, limit=limit))

    # -- a patient's file -----------------------------------------------------------------------

    def patient_file(self, key: PatientKey, *, state: str = "current") -> PatientFile | None:
        """The patient page: visits newest first (an encounter, else a session on one day,
        else a day), each grouped by body site and laterality, captures newest first.
        ``state="retracted"`` gives the quarantined items instead (records officers)."""
        summary = self.patient(key)
        if summary is None:
            return None
        with self._lock:
            rows = self._conn.execute(db.PATIENT_ITEMS,
                                      (key.issuer, key.patient_id, state)).fetchall()
            withdrawals = self._withdrawals(key)
        withdrawn = _withdrawn(withdrawals)
        captures = [_capture(r, withdrawn) for r in rows]
        return PatientFile(summary, _visits(captures), withdrawals)

    def capture(self, item_id: str) -> CaptureDetail | None:
        """One capture or document with its history (oldest amendment first)."""
        with self._lock:
            row = self._conn.execute(db.ITEM, (item_id,)).fetchone()
            if row is None:
                return None
            history = self._conn.execute(db.ITEM_HISTORY, (item_id,)).fetchall()
            key = PatientKey(row[2], row[3])
            withdrawn = _withdrawn(self._withdrawals(key))
        capture = _capture(row, withdrawn)
        original = json.loads(row[db.ITEM_FIELDS.index("original_json")] or "{}")
        return CaptureDetail(capture, [_amendment(h, capture.station_name) for h in history],
                             original)

    def compare(self, item_id: str) -> list[Capture]:
        """This capture and the one before it of the same body site and laterality (newest
        first; one element when there is none before it)."""
        detail = self.capture(item_id)
        if detail is None:
            return []
        c = detail.capture
        return [c, *self._same_site(c.key, c.body_site, c.laterality,
                                    (c.captured_at or "", c.item_id), 1)]

    def latest_pair(self, key: PatientKey, body_site: str | None,
                    laterality: str | None) -> list[Capture]:
        """The last two current captures of one body site and laterality, newest first."""
        return self._same_site(key, body_site, laterality, ("\U0010ffff", "~"), 2)

    def withdrawals(self, key: PatientKey) -> list[ConsentWithdrawal]:
        with self._lock:
            return self._withdrawals(key)

    # -- across patients -------------------------------------------------------------------------

    def recent(self, limit: int = 50, *, station_id: str | None = None,
               cursor: str | None = None) -> Page:
        """Current items newest received first, all or one station's; page on with
        ``cursor=page.next_cursor``."""
        at, item = _cursor(cursor)
        limit = _limit(limit)
        with self._lock:
            if station_id is None:
                rows = self._conn.execute(db.RECENT, (at, at, item, limit + 1)).fetchall()
            else:
                rows = self._conn.execute(db.RECENT_STATION,
                                          (station_id, at, at, item, limit + 1)).fetchall()
        return self._page(rows, limit, "received_at")

    def retracted(self, limit: int = 50, *, cursor: str | None = None) -> Page:
        """Retracted items, newest retraction first, with their reasons (records officers)."""
        at, item = _cursor(cursor)
        limit = _limit(limit)
        with self._lock:
            rows = self._conn.execute(db.RETRACTED, (at, at, item, limit + 1)).fetchall()
        return self._page(rows, limit, "retraction_received_at")

    def station_activity(self) -> dict[str, tuple[int, str]]:
        """Per station id: (items filed, last received_at) -- for the fleet page."""
        with self._lock:
            rows = self._conn.execute(db.STATION_COUNTS).fetchall()
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    def resolve(self, relative: str) -> Path:
        """The absolute path of a record's ``file_path``/``thumb_path``; ValueError if it
        would leave ``inbox/`` or ``retracted/`` (paths come from the index, but check)."""
        path = (self.data_dir / relative).resolve()
        for top in ("inbox", "retracted"):
            if path.is_relative_to((self.data_dir / top).resolve()):
                return path
        raise ValueError("not a patient-file path")

    # -- internals --------------------------------------------------------------------------------

    def _same_site(self, key: PatientKey, body_site: str | None, laterality: str | None,
                   before: tuple[str, str], limit: int) -> list[Capture]:
        with self._lock:
            rows = self._conn.execute(db.SAME_SITE, (
                key.issuer, key.patient_id, body_site, laterality, before[0], before[0],
                before[1], limit)).fetchall()
            withdrawn = _withdrawn(self._withdrawals(key))
        return [_capture(r, withdrawn) for r in rows]

    def _page(self, rows: list[tuple], limit: int, order_field: str) -> Page:
        position = db.ITEM_FIELDS.index(order_field)
        withdrawn_by_key: dict[tuple[str, str], frozenset[str]] = {}
        items = []
        for row in rows[:limit]:
            pair = (row[2], row[3])
            if pair not in withdrawn_by_key:
                with self._lock:
                    withdrawn_by_key[pair] = _withdrawn(self._withdrawals(PatientKey(*pair)))
            items.append(_capture(row, withdrawn_by_key[pair]))
        cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            cursor = f"{last[position]}{_CURSOR_SEP}{last[0]}"
        return Page(items, cursor)

    def _withdrawals(self, key: PatientKey) -> list[ConsentWithdrawal]:
        rows = self._conn.execute(db.WITHDRAWALS, (key.issuer, key.patient_id)).fetchall()
        return [_withdrawal(dict(zip(db.WITHDRAWAL_FIELDS, r, strict=True))) for r in rows]

    def _insert_withdrawals(self, entries: list[dict[str, Any]]) -> None:
        self._conn.executemany(db.INSERT_WITHDRAWAL, [
            (e["withdrawal_id"], e["issuer"], e["patient_id"], json.dumps(e["withdraws"]),
             e["recorded_by"], e["recorded_at"], e.get("reason")) for e in entries])

    def _patient_folder(self, key: PatientKey) -> Path:
        return (self.data_dir / "inbox" / safe_component(key.issuer, "unknown-issuer")
                / safe_component(key.patient_id, "unidentified"))

    def _row(self, sidecar: Path, record: dict[str, Any],
             history: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        issuer = str(record.get("issuer") or "")
        patient_id = str(record.get("patient_id") or "")
        retraction = record.get("retraction") or {}
        folder = sidecar.parent

        def rel(name: object) -> str | None:
            if not isinstance(name, str) or not name:
                return None
            quarantined = folder / f"{name}.retracted"
            path = quarantined if quarantined.exists() else folder / name
            return path.relative_to(self.data_dir).as_posix()

        entries = (history or {}).get("amendments") or []
        original = (history or {}).get("original") or {}
        row = {
            "item_id": record["capture_id"], "kind": record.get("kind") or "capture",
            "issuer": issuer, "patient_id": patient_id, "ref": self.pseudonyms.ref(
                issuer, patient_id),
            "encounter": record.get("encounter"), "session_id": record.get("session_id"),
            "sequence": record.get("sequence"), "captured_at": record.get("captured_at"),
            "day": capture_date(record.get("captured_at"), record.get("received_at", "")),
            "body_site": record.get("body_site"), "laterality": record.get("laterality"),
            "consent": record.get("consent"),
            "emergency_override": int(bool(record.get("emergency_override"))),
            "operator": record.get("operator"), "note": record.get("note"),
            "provenance": record.get("provenance"), "station_id": record["station_id"],
            "station_name": record.get("station_name"),
            "clock_synced": None if record.get("clock_synced") is None else int(
                bool(record["clock_synced"])),
            "received_at": record["received_at"], "state": record.get("state") or "current",
            "retraction_id": retraction.get("amendment_id"),
            "retracted_at": retraction.get("at"), "retracted_by": retraction.get("operator"),
            "retraction_reason": retraction.get("reason"),
            "retraction_received_at": retraction.get("received_at"),
            "file_path": rel(record.get("image_file")), "thumb_path": rel(record.get("thumb_file")),
            "sidecar_path": sidecar.relative_to(self.data_dir).as_posix(),
            "history_path": rel(record.get("history_file")),
            "sha256": record.get("image_sha256") or "", "pages": record.get("pages"),
            "amendments": len(entries), "amended_at": record.get("amended_at"),
            "original_json": json.dumps(original, sort_keys=True),
            "document_type": record.get("document_type"),
            "consent_form": record.get("consent_form"),
            "page_thumbs_json": json.dumps([
                rel(name) for name in (record.get("page_thumbs") or [])
                if name is None or isinstance(name, str)]),
        }
        amendments = [{**e, "changes_json": json.dumps(e.get("changes") or {}, sort_keys=True)}
                      for e in entries]
        return row, amendments


# -- row -> record --------------------------------------------------------------------------------


def _limit(limit: int) -> int:
    return max(1, min(int(limit), _MAX_LIMIT))


def _cursor(cursor: str | None) -> tuple[str, str]:
    if not cursor:
        return "\U0010ffff", "~"
    at, _, item = cursor.rpartition(_CURSOR_SEP)
    return at, item


def _summary(row: tuple) -> PatientSummary:
    return PatientSummary(PatientKey(row[0], row[1]), row[2], row[3], row[4], row[5], row[6],
                          row[7])


def _withdrawal(entry: dict[str, Any]) -> ConsentWithdrawal:
    withdraws = entry["withdraws"]
    if isinstance(withdraws, str):
        withdraws = json.loads(withdraws)
    return ConsentWithdrawal(int(entry["withdrawal_id"]),
                             PatientKey(entry["issuer"], entry["patient_id"]),
                             tuple(withdraws), entry["recorded_by"], entry["recorded_at"],
                             entry.get("reason"))


def _withdrawn(withdrawals: list[ConsentWithdrawal]) -> frozenset[str]:
    return frozenset(use for w in withdrawals for use in w.withdraws)


def _read_withdrawals(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _capture(row: tuple, withdrawn: frozenset[str]) -> Capture:
    r = dict(zip(db.ITEM_FIELDS, row, strict=True))
    retraction = None
    if r["state"] == "retracted":
        retraction = Retraction(r["retraction_id"] or "", r["retracted_at"], r["retracted_by"],
                                r["retraction_reason"], r["station_id"],
                                r["retraction_received_at"] or "")
    consent = r["consent"]
    effective = "record-only" if consent in withdrawn else consent
    return Capture(
        item_id=r["item_id"], kind=r["kind"], key=PatientKey(r["issuer"], r["patient_id"]),
        encounter=r["encounter"], session_id=r["session_id"], sequence=r["sequence"],
        captured_at=r["captured_at"], day=r["day"], body_site=r["body_site"],
        laterality=r["laterality"], consent=consent, effective_consent=effective,
        emergency_override=bool(r["emergency_override"]), operator=r["operator"],
        note=r["note"], provenance=r["provenance"], station_id=r["station_id"],
        station_name=r["station_name"],
        clock_synced=None if r["clock_synced"] is None else bool(r["clock_synced"]),
        received_at=r["received_at"], state=r["state"], retraction=retraction,
        file_path=r["file_path"] or "", thumb_path=r["thumb_path"],
        sidecar_path=r["sidecar_path"], history_path=r["history_path"], sha256=r["sha256"],
        pages=r["pages"], amendments=r["amendments"] or 0, amended_at=r["amended_at"],
        document_type=r["document_type"], consent_form=r["consent_form"],
        page_thumb_paths=tuple(json.loads(r["page_thumbs_json"] or "[]")),
    )


def _amendment(row: tuple, station_name: str | None) -> Amendment:
    r = dict(zip(db.AMENDMENT_FIELDS, row, strict=True))
    return Amendment(amendment_id=r["amendment_id"], at=r["at"], operator=r["operator"],
                     station_id=r["station_id"], station_name=station_name,
                     received_at=r["received_at"], retract=bool(r["retract"]),
                     reason=r["reason"], changes=json.loads(r["changes_json"] or "{}"))


def _visit_key(c: Capture) -> str:
    if c.encounter:
        return "enc:" + c.encounter
    if c.session_id:
        return f"ses:{c.session_id}:{c.day}"
    return "day:" + c.day


def _visits(captures: list[Capture]) -> list[Visit]:
    """Group captures (already newest first) by visit, then by body site and laterality;
    visits and sites keep the order of their newest capture."""
    visits: dict[str, dict[tuple[str | None, str | None], list[Capture]]] = {}
    for c in captures:
        visits.setdefault(_visit_key(c), {}).setdefault((c.body_site, c.laterality),
                                                        []).append(c)
    out = []
    for key, sites in visits.items():
        everything = [c for group in sites.values() for c in group]
        times = [c.captured_at for c in everything if c.captured_at]
        first = everything[0]
        out.append(Visit(
            visit_key=key, encounter=first.encounter, session_id=first.session_id,
            day=first.day, first_captured_at=min(times) if times else None,
            last_captured_at=max(times) if times else None,
            sites=[SiteGroup(site, side, group) for (site, side), group in sites.items()]))
    return out
