"""Shared rig for the practice UI tests: a real receiver data directory (captures filed,
amended and retracted by :mod:`practice.filing`, indexed by the real
:class:`~practice.patientfile.PatientIndex`), the real station table, a real account store
with one user per practice role, the real hash-chained audit log, and a Flask test client
that speaks HTTPS and fills in the page's CSRF token like a browser.

Argon2id costs ~0.1 s a hash, so the account store is built once per module and copied.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from practice.accounts import ROLES
from practice.audit import PracticeAudit
from practice.filing import apply_amendment, file_capture
from practice.patientfile import PatientIndex
from practice.store import ReceiverStore
from practice.web.app import create_app
from tests.websecurity.browser import Browser as SharedBrowser
from tests.websecurity.fakes import FakeClock
from websecurity.accounts import Accounts

PASSWORDS = {"cleo": "clinician-password-1", "rex": "records-password-22",
             "ada": "admin-password-333"}
ROLE_OF = {"cleo": "clinician", "rex": "records", "ada": "admin"}
USER_OF = {role: name for name, role in ROLE_OF.items()}
GSRN = "795123450000000015"  # the demo patient (GS1 example prefix, valid check digit)
BASE = "https://practice.test"
TZ = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def account_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("accounts") / "accounts.db"
    accounts = Accounts(path, ROLES)
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLE_OF[name], password=password)
    return path


def jpeg(size=(64, 48), colour=(200, 80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Rig:
    data_dir: Path
    index: PatientIndex
    store: ReceiverStore
    accounts: Accounts
    audit: PracticeAudit
    app: object
    clock: FakeClock
    station_id: str

    def client(self) -> Browser:
        return Browser(self.app.test_client())

    def file(self, *, patient_id: str = GSRN, issuer: str = "GS1", size=(64, 48),
             **meta) -> str:
        """File one capture as the receiver does (photo, thumbnail, sidecar) and index it."""
        capture_id = str(uuid.uuid4())
        metadata = {"patient_id": patient_id, "issuer": issuer, "consent": "teaching",
                    "body_site": "hand", "laterality": "left", "operator": "nina",
                    "station_name": "Exam room 3", "captured_at": "2026-01-01T10:00:00+00:00",
                    "clock_synced": True, "provenance": "scanned-gs1",
                    "session_id": "s1", "sequence": 1}
        metadata.update(meta)
        staged = self.data_dir / "staging"
        staged.mkdir(exist_ok=True)
        image, preview = staged / f"{capture_id}.jpg", staged / f"{capture_id}.thumb"
        data = jpeg(size)
        image.write_bytes(data)
        preview.write_bytes(jpeg((32, 24)))
        main = file_capture(self.data_dir / "inbox", capture_id, metadata, image,
                            image_sha256=hashlib.sha256(data).hexdigest(),
                            station_id=self.station_id, received_at="2026-01-01T10:00:05Z",
                            sealed_sha256="0" * 64, sealed_path=f"sealed/{capture_id}",
                            preview=preview)
        self.index.ingest(main.with_suffix(".json"))
        return capture_id

    def document(self, *, pdf: bytes | None = None, **meta) -> str:
        """File one document as the receiver does (a station's two-page PDF, its page
        thumbnails rendered at filing) and index it; its id."""
        from tests.practice.documents import station_pdf

        document_id = str(uuid.uuid4())
        metadata = {"patient_id": GSRN, "issuer": "GS1", "consent": "record-only",
                    "operator": "nina", "station_name": "Exam room 3",
                    "captured_at": "2026-01-01T09:55:00+00:00", "clock_synced": True,
                    "provenance": "scanned-gs1", "session_id": "s1", "sequence": 1,
                    "document_type": "consent-form", "pages": 2, **meta}
        staged = self.data_dir / "staging"
        staged.mkdir(exist_ok=True)
        path = staged / f"{document_id}.pdf"
        data = pdf if pdf is not None else station_pdf()
        path.write_bytes(data)
        main = file_capture(self.data_dir / "inbox", document_id, metadata, path,
                            image_sha256=hashlib.sha256(data).hexdigest(),
                            station_id=self.station_id, received_at="2026-01-01T10:00:05Z",
                            sealed_sha256="0" * 64, sealed_path=f"sealed/{document_id}",
                            kind="document")
        self.index.ingest(main.with_suffix(".json"))
        return document_id

    def _filed(self, capture_id: str) -> Path:
        return self.data_dir / self.index.capture(capture_id).capture.file_path

    def amend(self, capture_id: str, changes: dict, *, operator: str = "nina",
              at: str = "2026-01-01T10:05:00+00:00") -> None:
        self._apply(capture_id, {"amends": capture_id, "at": at, "retract": False,
                                 "changes": changes, "operator": operator})

    def retract(self, capture_id: str, reason: str = "wrong_patient") -> None:
        self._apply(capture_id, {"amends": capture_id, "at": "2026-01-01T10:06:00+00:00",
                                 "retract": True, "changes": {}, "operator": "nina",
                                 "reason": reason})

    def _apply(self, capture_id: str, metadata: dict) -> None:
        amendment_id = str(uuid.uuid4())
        filed = apply_amendment(self.data_dir, self._filed(capture_id), amendment_id, metadata,
                                station_id=self.station_id,
                                received_at="2026-01-01T10:07:00Z", sealed_sha256="0" * 64,
                                sealed_path=f"sealed/{amendment_id}")
        self.index.ingest(filed.sidecar)

    def ref(self, patient_id: str = GSRN, issuer: str = "GS1") -> str:
        return self.index.pseudonyms.ref(issuer, patient_id)

    def audit_events(self) -> list[dict]:
        if not self.audit.path.exists():
            return []
        return [json.loads(line) for line in self.audit.path.read_text().splitlines()]

    def events(self, name: str) -> list[dict]:
        return [e["fields"] for e in self.audit_events() if e["event"] == name]


class Browser(SharedBrowser):
    """This UI's host and test passwords (see :class:`tests.websecurity.browser.Browser`)."""

    BASE = BASE
    PASSWORDS = PASSWORDS


def enrol_station(store: ReceiverStore, name: str = "Exam room 3", room: str = "3",
                  *, approval: bool = False) -> str:
    token, _ = store.create_token(room, 3600, approval)
    station_id = base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()
    store.redeem_token(token, station_id, b"\x01" * 32, name)
    return station_id


@pytest.fixture
def rig(tmp_path, account_template):
    data_dir = tmp_path / "receiver"
    data_dir.mkdir()
    store = ReceiverStore(data_dir)
    station_id = enrol_station(store)
    index = PatientIndex(data_dir)
    shutil.copy(account_template, data_dir / "accounts.db")
    accounts = Accounts(data_dir / "accounts.db", ROLES)
    audit = PracticeAudit(data_dir, fsync=False)
    clock = FakeClock()
    app = create_app(index=index, stations=store, accounts=accounts, audit=audit, tz=TZ,
                     testing=True, clock=clock, practice_name="Test practice")
    yield Rig(data_dir, index, store, accounts, audit, app, clock, station_id)
    audit.close()
    index.close()
    store.close()
