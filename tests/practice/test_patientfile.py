"""The patient file through the real receiver: filing, amendments, retractions (in and out of
order), thumbnails, and the index queries the practice web UI uses."""

from __future__ import annotations

import hashlib
import json

import pytest

from barcode import gs1
from barcode.interpret import LocalFormat
from practice.filing import apply_amendment
from practice.patientfile import PatientIndex, PatientKey, rebuild
from sync.client import ReceiverClient
from sync.protocol import item_path
from tests.sync.helpers import PREVIEW, new_station, seal_amendment, seal_capture, uuid7

pytestmark = pytest.mark.usefixtures("no_thread_leaks")
KEY = PatientKey("GSRN-8018", "000123456")


def _put(receiver, station, kind, item_id, sealed):
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                        station.station_id, timeout=30) as client:
        response = client.request("PUT", item_path(kind, item_id), body=sealed,
                                  sha256_hex=hashlib.sha256(sealed).hexdigest())
    assert response.status in (200, 201), response.body
    return response


@pytest.fixture
def station(receiver):
    st = new_station("exam-1")
    receiver.enrol_directly(st)
    return st


def _files(receiver, top):
    root = receiver.data_dir / top
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_capture_is_filed_with_thumbnail_and_indexed(receiver, station):
    capture_id, sealed, image = seal_capture(receiver.keys, station, session_id="s-1")
    _put(receiver, station, "capture", capture_id, sealed)
    folder = f"GSRN-8018/000123456/2025-03-04_{capture_id}"
    assert _files(receiver, "inbox") == [f"{folder}.jpg", f"{folder}.json",
                                         f"{folder}.thumb.jpg"]
    assert (receiver.data_dir / "inbox" / f"{folder}.thumb.jpg").read_bytes() == PREVIEW
    detail = receiver.app.index.capture(capture_id)
    c = detail.capture
    assert (c.key, c.state, c.body_site, c.laterality, c.encounter, c.session_id) == (
        KEY, "current", "heel", "left", "E-77", "s-1")
    assert (c.operator, c.consent, c.station_id, c.clock_synced) == (
        "nurse-4", "record-only", station.station_id, True)
    assert receiver.app.index.resolve(c.file_path).read_bytes() == image
    assert c.thumb_path == f"inbox/{folder}.thumb.jpg" and detail.history == []


def test_amendment_rewrites_sidecar_and_keeps_history(receiver, station):
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    _put(receiver, station, "capture", capture_id, sealed)
    amendment_id, sealed_a = seal_amendment(receiver.keys, station, capture_id,
                                            changes={"body_site": "knee", "note": "swelling"})
    _put(receiver, station, "amendment", amendment_id, sealed_a)
    [sidecar] = (receiver.data_dir / "inbox").rglob(f"*{capture_id}.json")
    current = json.loads(sidecar.read_text())
    assert (current["body_site"], current["note"], current["laterality"]) == (
        "knee", "swelling", "left")
    history = json.loads(sidecar.with_name(sidecar.stem + ".history.json").read_text())
    assert history["original"]["body_site"] == "heel"
    [entry] = history["amendments"]
    assert (entry["amendment_id"], entry["station_id"], entry["at"]) == (
        amendment_id, station.station_id, "2025-03-04T11:00:00+00:00")
    detail = receiver.app.index.capture(capture_id)
    assert detail.capture.body_site == "knee" and detail.original["body_site"] == "heel"
    [h] = detail.history
    assert (h.amendment_id, h.changes, h.station_name) == (
        amendment_id, {"body_site": "knee", "note": "swelling"}, "exam-1")


@pytest.mark.parametrize("order", ["capture_first", "retraction_first"])
def test_retraction_quarantines_files_in_either_order(receiver, station, order):
    capture_id = uuid7()
    _, sealed, image = seal_capture(receiver.keys, station, capture_id=capture_id)
    retraction_id, sealed_r = seal_amendment(receiver.keys, station, capture_id, retract=True)
    items = [("capture", capture_id, sealed), ("amendment", retraction_id, sealed_r)]
    for kind, item_id, body in (items if order == "capture_first" else items[::-1]):
        _put(receiver, station, kind, item_id, body)
    stem = f"GSRN-8018/000123456/2025-03-04_{capture_id}"
    assert _files(receiver, "inbox") == []  # gone from the patient's folder
    assert _files(receiver, "retracted") == [
        f"{stem}.history.json", f"{stem}.jpg.retracted", f"{stem}.json",
        f"{stem}.thumb.jpg.retracted"]
    quarantine = receiver.data_dir / "retracted"
    assert (quarantine / f"{stem}.jpg.retracted").read_bytes() == image
    assert oct(quarantine.stat().st_mode & 0o777) == "0o700"
    sidecar = json.loads((quarantine / f"{stem}.json").read_text())
    assert sidecar["state"] == "retracted" and sidecar["retraction"]["reason"] == "wrong patient"
    assert receiver.store.item(capture_id).filed_path == f"retracted/{stem}.jpg.retracted"

    index = receiver.app.index
    assert index.patient_file(KEY).visits == []
    page = index.retracted()
    [c] = page.items
    assert (c.item_id, c.state, c.retraction.reason) == (capture_id, "retracted",
                                                         "wrong patient")
    assert index.resolve(c.file_path).read_bytes() == image
    assert index.resolve(c.thumb_path).name.endswith(".thumb.jpg.retracted")
    assert index.patient(KEY).captures == 0 and index.patient(KEY).retracted == 1


def test_applying_the_same_amendment_again_changes_nothing(tmp_path, receiver, station):
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    _put(receiver, station, "capture", capture_id, sealed)
    for retract in (False, True):
        amendment_id, sealed_a = seal_amendment(receiver.keys, station, capture_id,
                                                retract=retract)
        _put(receiver, station, "amendment", amendment_id, sealed_a)
    before = {p: p.read_bytes() for p in receiver.data_dir.rglob("*")
              if p.is_file() and p.parts[-3:-2] != ("sealed",) and p.suffix != ".db"
              and "-wal" not in p.name and "-shm" not in p.name}
    filed = receiver.data_dir / receiver.store.item(capture_id).filed_path
    again = apply_amendment(receiver.data_dir, filed, amendment_id,
                            {"amends": capture_id, "retract": True, "changes": {},
                             "at": "2025-03-04T11:00:00+00:00", "reason": "wrong patient"},
                            station_id=station.station_id,
                            received_at=receiver.store.item(amendment_id).received_at,
                            sealed_sha256=receiver.store.item(amendment_id).sha256,
                            sealed_path=receiver.store.item(amendment_id).sealed_path)
    assert again.state == "retracted" and again.file == filed
    after = {p: p.read_bytes() for p in before}
    assert after == before and all(p.exists() for p in before)


def test_index_is_rebuilt_from_disk(receiver, station):
    ids = []
    for site in ("heel", "knee", "heel"):
        capture_id, sealed, _ = seal_capture(receiver.keys, station, body_site=site)
        _put(receiver, station, "capture", capture_id, sealed)
        ids.append(capture_id)
    retraction_id, sealed_r = seal_amendment(receiver.keys, station, ids[1], retract=True)
    _put(receiver, station, "amendment", retraction_id, sealed_r)
    index = receiver.app.index
    before = (index.patient(KEY), [c.item_id for c in index.patient_file(KEY).captures()],
              [c.item_id for c in index.retracted().items])
    index.clear()
    assert index.patient(KEY) is None
    assert rebuild(index) == 3
    after = (index.patient(KEY), [c.item_id for c in index.patient_file(KEY).captures()],
             [c.item_id for c in index.retracted().items])
    assert after == before


# -- queries on an index filled directly ------------------------------------------------------


def _sidecar(data_dir, capture_id, **fields):
    """File a capture the way the receiver does (sidecar + photo) and return its sidecar."""
    from practice.filing import file_capture

    staged = data_dir / f"{capture_id}.staged"
    staged.write_bytes(b"jpeg")
    meta = {"issuer": "GSRN-8018", "patient_id": "000123456", **fields}
    jpg = file_capture(data_dir / "inbox", capture_id, meta, staged, image_sha256="00" * 32,
                       station_id="st-" + "ab" * 12, received_at=fields.get(
                           "received_at", "2025-03-04T12:00:00Z"),
                       sealed_sha256="11" * 32, sealed_path="sealed/x")
    return jpg.with_suffix(".json")


def test_patient_page_groups_by_visit_then_site_newest_first(tmp_path):
    index = PatientIndex(tmp_path)
    rows = [  # (id, captured_at, encounter, session, site, side)
        ("01900000-0000-7000-8000-000000000001", "2025-01-01T10:00:00Z", "E1", "s1", "heel",
         "left"),
        ("01900000-0000-7000-8000-000000000002", "2025-01-01T10:05:00Z", "E1", "s1", "knee",
         "left"),
        ("01900000-0000-7000-8000-000000000003", "2025-01-01T10:06:00Z", "E1", "s1", "heel",
         "left"),
        ("01900000-0000-7000-8000-000000000004", "2025-02-01T09:00:00Z", None, "s2", "heel",
         "left"),
        ("01900000-0000-7000-8000-000000000005", "2025-02-02T09:00:00Z", None, None, "heel",
         "right"),
    ]
    for item_id, at, enc, ses, site, side in rows:
        index.ingest(_sidecar(tmp_path, item_id, captured_at=at, encounter=enc,
                              session_id=ses, body_site=site, laterality=side))
    page = index.patient_file(KEY)
    assert [v.visit_key for v in page.visits] == ["day:2025-02-02", "ses:s2:2025-02-01",
                                                  "enc:E1"]
    enc = page.visits[2]
    assert [(s.body_site, [c.item_id[-1] for c in s.captures]) for s in enc.sites] == [
        ("heel", ["3", "1"]), ("knee", ["2"])]
    assert [c.item_id[-1] for c in index.compare(rows[3][0])] == ["4", "3"]
    assert [c.item_id[-1] for c in index.latest_pair(KEY, "heel", "left")] == ["4", "3"]
    assert [c.item_id[-1] for c in index.compare(rows[0][0])] == ["1"]
    assert [c.item_id[-1] for c in index.latest_pair(KEY, "heel", "right")] == ["5"]
    index.close()


def test_recent_pages_with_a_cursor_and_per_station(tmp_path):
    index = PatientIndex(tmp_path)
    for n in range(5):
        index.ingest(_sidecar(tmp_path, f"01900000-0000-7000-8000-00000000000{n}",
                              received_at=f"2025-03-0{n + 1}T00:00:00Z"))
    first = index.recent(limit=2)
    second = index.recent(limit=2, cursor=first.next_cursor)
    third = index.recent(limit=2, cursor=second.next_cursor)
    ids = [c.item_id[-1] for p in (first, second, third) for c in p.items]
    assert ids == ["4", "3", "2", "1", "0"] and third.next_cursor is None
    assert len(index.recent(station_id="st-" + "ab" * 12).items) == 5
    assert index.recent(station_id="st-" + "cd" * 12).items == []
    assert index.station_activity() == {"st-" + "ab" * 12: (5, "2025-03-05T00:00:00Z")}
    index.close()


def test_find_patients_by_id_prefix_and_issuer(tmp_path):
    index = PatientIndex(tmp_path)
    for n, (issuer, pid) in enumerate([("HOSP", "4711"), ("CLINIC", "4711"), ("HOSP", "47119"),
                                       ("HOSP", "5000")]):
        index.ingest(_sidecar(tmp_path, f"01900000-0000-7000-8000-00000000000{n}",
                              issuer=issuer, patient_id=pid))
    found = [(p.key.issuer, p.key.patient_id) for p in index.find_patients("4711")]
    assert found == [("CLINIC", "4711"), ("HOSP", "4711"), ("HOSP", "47119")]
    assert [p.key.issuer for p in index.find_patients("4711", issuer="HOSP")] == ["HOSP",
                                                                                   "HOSP"]
    assert index.find_patients("9") == [] and index.find_patients("  ") == []
    summary = index.patient(PatientKey("HOSP", "4711"))
    assert index.patient_by_ref(summary.ref) == summary and summary.ref.startswith("p-")
    assert "4711" not in repr(summary)
    index.close()


def test_wristband_text_from_a_desk_scanner(tmp_path):
    index = PatientIndex(tmp_path)
    gsrn = gs1.with_check_digit("12345678901234567")
    index.ingest(_sidecar(tmp_path, "01900000-0000-7000-8000-000000000001", issuer="GS1",
                          patient_id=gsrn))
    index.ingest(_sidecar(tmp_path, "01900000-0000-7000-8000-000000000002", issuer="HOSP",
                          patient_id="000777"))
    for typed in (f"]C18018{gsrn}801999", f"(8018){gsrn}(8019)99", f"8018{gsrn}\r\n"):
        found = index.lookup_wristband(typed)
        assert found.outcome == "patient" and found.key == PatientKey("GS1", gsrn)
        assert [p.key for p in found.patients] == [PatientKey("GS1", gsrn)]
    assert index.lookup_wristband(f"]C18018{gsrn}801999").encounter == "99"
    local = LocalFormat.from_mapping({"symbology": "code128", "pattern": r"MRN(?P<id>\d+)",
                                      "issuer": "HOSP"})
    found = index.lookup_wristband("MRN000777", [local])
    assert (found.outcome, [p.key for p in found.patients]) == (
        "patient", [PatientKey("HOSP", "000777")])
    plain = index.lookup_wristband("000777")
    assert (plain.outcome, [p.key.issuer for p in plain.patients]) == ("plain", ["HOSP"])
    bad = index.lookup_wristband("(8018)123456789012345670")
    assert bad.outcome == "invalid" and bad.patients == [] and "1234" not in (bad.error or "")
    index.close()


def test_consent_withdrawal_applies_from_then_on_and_survives_a_rebuild(tmp_path):
    index = PatientIndex(tmp_path)
    index.ingest(_sidecar(tmp_path, "01900000-0000-7000-8000-000000000001",
                          consent="teaching"))
    [c] = index.patient_file(KEY).captures()
    assert (c.consent, c.effective_consent) == ("teaching", "teaching")
    with pytest.raises(ValueError):
        index.record_withdrawal(KEY, ["record-only"], recorded_by="rec",
                                recorded_at="2025-04-01T00:00:00Z")
    w = index.record_withdrawal(KEY, ["teaching"], recorded_by="rec",
                                recorded_at="2025-04-01T00:00:00Z", reason="asked")
    [c] = index.patient_file(KEY).captures()
    assert (c.consent, c.effective_consent) == ("teaching", "record-only")
    assert index.patient_file(KEY).withdrawals == [w]
    rebuild(index)
    assert index.withdrawals(KEY) == [w]
    index.close()
