"""Shared rig for the web UI tests: a real vault (enrolled with a generated practice key), a
real account store, a real workflow, and a Flask test client speaking HTTPS.

Argon2id hashing costs ~0.1 s, so the account store with one user per role is built once per
module and copied per test (a fresh SQLite file each time, same hashes).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.config import Config, defaults
from appliance.enrolment import Enrolment, save_enrolment
from appliance.paths import StatePaths
from appliance.vault import Vault
from appliance.web.accounts import ROLES
from appliance.web.app import create_app
from appliance.web.status import station_status
from appliance.workflow import Rules, Workflow
from barcode.identity import Identity
from capture.fake import FakeCamera
from tests.websecurity.browser import Browser as SharedBrowser
from tests.websecurity.fakes import FakeClock
from websecurity.accounts import Accounts

PASSWORDS = {"nina": "nurse-password-1", "rita": "reviewer-password-2",
             "adam": "admin-password-3"}
ROLE_OF = {"nina": "nurse", "rita": "reviewer", "adam": "admin"}
PATIENT = Identity("patient", "795123450000000013", "GS1", provenance="scanned-gs1")
BASE = "https://station.test"
RECEIVER_PIN = hashlib.sha256(b"the practice receiver's TLS public key").hexdigest()


@pytest.fixture(scope="module")
def account_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("accounts") / "accounts.db"
    accounts = Accounts(path, ROLES)
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLE_OF[name], password=password)
    return path


def enrol(paths: StatePaths) -> X25519PrivateKey:
    """Enrol the station with a freshly generated practice key; returns its private half."""
    practice = X25519PrivateKey.generate()
    raw = practice.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
    from appliance.vault import load_or_create_identity

    save_enrolment(paths, Enrolment(station_id=load_or_create_identity(paths).station_id,
                                    receiver_name="practice", receiver_pin=RECEIVER_PIN,
                                    practice_public_key=base64.b64encode(raw).decode(),
                                    enrolled_at="2026-01-01T00:00:00Z"))
    return practice


@dataclass
class Rig:
    app: object
    vault: Vault
    accounts: Accounts
    workflow: Workflow
    clock: FakeClock
    paths: StatePaths
    cfg: Config
    camera: FakeCamera
    practice_key: X25519PrivateKey | None = None
    events: list = field(default_factory=list)
    presses: list = field(default_factory=list)

    def client(self):
        return Browser(self.app.test_client())

    def capture(self, **meta) -> str:
        """A capture made by the fake camera, sealed and queued by the real vault."""
        metadata = {"patient_id": PATIENT.id, "issuer": PATIENT.issuer, "consent": "teaching",
                    "body_site": "hand", "laterality": "left", "provenance": "scanned-gs1",
                    "operator": "nina", "captured_at": "2026-01-01T10:00:00+00:00"}
        metadata.update(meta)
        return self.vault.store_capture(self.camera.capture_jpeg(), metadata).capture_id

    def audit_events(self) -> list[dict]:
        import json

        return [json.loads(line) for line in self.paths.audit_log.read_text().splitlines()]


class Browser(SharedBrowser):
    """This UI's host and test passwords (see :class:`tests.websecurity.browser.Browser`)."""

    BASE = BASE
    PASSWORDS = PASSWORDS


def make_config(tmp_path, practice: dict | None = None, **web) -> Config:
    values = defaults()
    values["station"]["state_dir"] = str(tmp_path / "state")
    values["station"]["name"] = "Exam room 3"
    values["camera"]["backend"] = "fake"
    values["vault"]["reserve_mb"] = 16
    values["web"].update(web)
    values["practice"].update(practice or {})
    return Config(values, "test")


@pytest.fixture
def rig(tmp_path, account_template):
    cfg = make_config(tmp_path)
    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    practice_key = enrol(paths)
    shutil.copy(account_template, paths.root / "accounts.db")
    accounts = Accounts(paths.root / "accounts.db", ROLES)
    clock = FakeClock()
    vault = Vault(paths, reserve_bytes=16 * 1024 * 1024, audit_fsync=False)
    workflow = Workflow(Rules(body_sites=tuple(cfg.workflow.body_sites)), now=clock())
    camera = FakeCamera(still_size=(800, 600), lores_size=(320, 240))
    camera.start()
    holder: dict = {}

    def events(event):
        holder["rig"].events.append(event)
        return workflow.handle(event, clock())

    def status():
        return station_status(workflow=workflow, vault=vault, cfg=cfg, clock_synced=False,
                              receiver={"name": "practice", "state": "connected",
                                        "detail": "pinned"})

    app = create_app(vault=vault, accounts=accounts, audit=vault.audit, status=status,
                     workflow_events=events, demo_press=lambda: holder["rig"].presses.append(1),
                     config=cfg, testing=True, clock=clock)
    rig = Rig(app, vault, accounts, workflow, clock, paths, cfg, camera, practice_key)
    holder["rig"] = rig
    yield rig
    camera.close()
    vault.close()
