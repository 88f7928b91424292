"""The practice audit log (shared hash chain), ``capture-receiver audit|user|init`` and the
station status the receiver records for the fleet page."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from practice.accounts import accounts_path, open_accounts
from practice.audit import PracticeAudit
from practice.cli import main
from sync.audit import AuditFieldError
from sync.client import ReceiverClient
from sync.protocol import StationReport, item_path
from tests.sync.helpers import new_station, seal_capture


def test_practice_audit_records_pages_and_verifies(tmp_path, capsys):
    with PracticeAudit(tmp_path) as audit:
        audit.record("login.ok", by="dr-a")
        for n in range(5):
            audit.record("patient.viewed", by="dr-a" if n % 2 else "rec", patient_ref=f"p-{n}")
        audit.record("patient.searched", by="dr-a", kind="wristband", results=1,
                     patient_refs=["p-3"])
        with pytest.raises(AuditFieldError):
            audit.record("patient.searched", by="dr-a", text="000123456")
        first = audit.page(limit=3, event_prefix="patient.")
        assert [e.seq for e in first.items] == [7, 6, 5] and first.next_cursor == "5"
        second = audit.page(limit=3, event_prefix="patient.", cursor=first.next_cursor)
        assert [e.seq for e in second.items] == [4, 3, 2] and second.next_cursor is None
        assert [e.seq for e in audit.page(by="rec").items] == [6, 4, 2]
        assert [e.seq for e in audit.page(patient_ref="p-3").items] == [7, 5]
        assert audit.verify().ok and audit.verify().records == 7
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0
    assert "7 records" in capsys.readouterr().out
    assert main(["audit", "show", "--data-dir", str(tmp_path), "-n", "2"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 2 and "patient.searched" in shown[1]

    log = tmp_path / "practice-audit.log"
    lines = log.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["fields"]["by"] = "someone-else"
    lines[2] = json.dumps(edited, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err and "line 3" in err


def test_user_command_manages_practice_accounts(tmp_path, capsys, monkeypatch):
    def run(*args, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["user", "--data-dir", str(tmp_path), *args])

    assert run("add", "rec", "--role", "records", "--password-stdin",
               stdin="long enough secret\n") == 0
    assert run("add", "doc", "--role", "clinician", "--generate") == 0
    assert "one-time password: " in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a station role is no practice role
        run("add", "x", "--role", "nurse", "--generate")
    assert run("list") == 0
    listed = capsys.readouterr().out
    assert "rec" in listed and "records" in listed and "clinician" in listed
    assert run("passwd", "ghost", "--generate") == 1
    assert run("remove", "doc") == 0
    accounts = open_accounts(tmp_path)
    assert [a.name for a in accounts.list()] == ["rec"]
    assert accounts.verify("rec", "long enough secret") is not None
    assert oct(accounts_path(tmp_path).stat().st_mode & 0o777) == "0o600"
    with PracticeAudit(tmp_path) as audit:
        events = [(e.event, e.by, e.fields.get("user")) for e in audit.page().items]
    assert events == [("user.removed", "console", "doc"), ("user.added", "console", "doc"),
                      ("user.added", "console", "rec")]


def test_init_makes_the_first_admin_once(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["init", "--data-dir", str(data), "--name", "practice-test"]) == 0
    out = capsys.readouterr().out
    password = out.split("one-time password: ")[1].split()[0]
    account = open_accounts(data).verify("admin", password)
    assert account is not None and account.role == "admin" and account.must_change_password
    assert PracticeAudit(data).verify().records == 1


def test_station_queue_depth_and_version_are_recorded(receiver):
    station = new_station("exam-1")
    receiver.enrol_directly(station)
    assert receiver.store.station(station.station_id).queue_depth is None
    capture_id, sealed, _ = seal_capture(receiver.keys, station)
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                        station.station_id, timeout=30,
                        report=lambda: StationReport(7, "1.2.3")) as client:
        response = client.request("PUT", item_path("capture", capture_id), body=sealed,
                                  sha256_hex=hashlib.sha256(sealed).hexdigest())
        assert response.status == 201
        seen = receiver.store.station(station.station_id)
        assert (seen.queue_depth, seen.version) == (7, "1.2.3")
        assert seen.last_seen and seen.last_delivery
        client.report = lambda: StationReport(0, "1.2.4")
        assert client.request("GET", "/v1/station").json()["status"] == "approved"
    seen_again = receiver.store.station(station.station_id)
    assert (seen_again.queue_depth, seen_again.version) == (0, "1.2.4")
    assert seen_again.last_delivery == seen.last_delivery


def test_unsigned_status_headers_are_ignored(receiver):
    """A header the signature does not cover never reaches the fleet page."""
    from sync.signing import RequestVerifier

    station = new_station()
    receiver.enrol_directly(station)
    with ReceiverClient("127.0.0.1", receiver.port, receiver.pin, station.key,
                        station.station_id) as client:
        headers = client.signer.headers("GET", "/v1/station", sha256_hex=hashlib.sha256(
            b"").hexdigest(), length=0)
    headers["Station-Queue-Depth"] = "999"
    verified = RequestVerifier(lambda _kid: station.key.public_key()).verify(
        "GET", "/v1/station", headers)
    assert verified.report == StationReport(None, None)
