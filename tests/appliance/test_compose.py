"""The assembled station: parts wired from config (real vault, reader, workflow, pins)."""

import time

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.compose import assemble, to_workflow_event
from appliance.config import load_config
from appliance.workflow import CardSeen, ConflictSeen, InvalidSeen, PatientSeen
from barcode.commands import Command
from barcode.identity import Identity
from barcode.reader import CommandRead, Conflict, InvalidRead, PatientIdentified
from capture.fake import FakeCamera, Scene, Symbol
from sync import provisioning as fmt
from sync.provisioning import Admin, Bundle


def station_config(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\nstate_dir = "{tmp_path / "state"}"\n[camera]\nbackend = "fake"\n'
        'still_width = 1280\nstill_height = 960\n[gpio]\npin_factory = "mock"\n'
        '[vault]\nreserve_mb = 16\n[web]\nenabled = false\n')
    return load_config(path, environ={})


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("event", "expected"), [
    (PatientIdentified(Identity("patient", "795123450000000015", "GS1", "42")),
     PatientSeen),
    (CommandRead(Command("site", "heel")), CardSeen("body_site", "heel")),
    (CommandRead(Command("session", "end")), CardSeen("end_session", "")),
    (CommandRead(Command("consent", "teaching")), CardSeen("consent", "teaching")),
    (Conflict(()), ConflictSeen()),
    (InvalidRead("bad check digit", "datamatrix"), InvalidSeen("bad check digit")),
])
def test_reader_events_become_workflow_events(event, expected):
    translated = to_workflow_event(event)
    if isinstance(expected, type):
        assert isinstance(translated, expected)
        assert translated.patient.id == "795123450000000015"
        assert translated.patient.encounter == "42"
        assert translated.patient.provenance == "scanned-gs1"
    else:
        assert translated == expected


def test_unenrolled_station_hands_a_provisioning_qr_to_the_spool(tmp_path):
    cfg = station_config(tmp_path)
    bundle = Bundle(receiver_name="practice", receiver_pin="a" * 64, token="t" * 32,
                    admin=Admin("it-admin", one_time_password="correct-horse-battery-9"))
    camera = FakeCamera(Scene(symbols=(Symbol("qrcode", fmt.to_qr_payload(bundle),
                                              module_px=12),)),
                        still_size=(1280, 960), lores_size=(1280, 960))
    spool = tmp_path / "run" / fmt.FILE_NAME
    factory = MockFactory()
    with assemble(cfg, camera=camera, pin_factory=factory, qr_spool=spool) as assembly:
        assert assembly.sync_worker is None  # nothing to deliver to before enrolment
        assert wait_for(spool.exists)
        assert wait_for(lambda: assembly.station.workflow.steady_signal().name
                        == "not_enrolled")
    assert fmt.parse_toml(spool.read_text()) == bundle
    assert spool.stat().st_mode & 0o777 == 0o600
    factory.reset()


def test_enrolled_station_does_not_watch_for_provisioning_codes(tmp_path):
    import base64

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from appliance.enrolment import Enrolment, save_enrolment
    from appliance.paths import StatePaths

    cfg = station_config(tmp_path)
    raw = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    save_enrolment(StatePaths(cfg.state_dir), Enrolment(
        "st-x", "practice", "a" * 64, base64.b64encode(raw).decode(),
        base64.b64encode(b"\0" * 32).decode()))
    factory = MockFactory()
    with assemble(cfg, camera=FakeCamera(still_size=(640, 480)), pin_factory=factory,
                  receiver_addresses=[], qr_spool=tmp_path / "spool.toml") as assembly:
        assert assembly.station.unenrolled_frames is None
        assert assembly.sync_worker is not None
    factory.reset()


def test_workflow_reader_forwards_the_seam_and_reports_a_band_kept_in_view():
    from appliance.compose import WorkflowReader
    from appliance.workflow import BandInView
    from barcode.interpret import Interpretation
    from barcode.reader import Reader, ReaderSettings

    patient = Identity("patient", "795123450000000013", "GS1", provenance="scanned-gs1")
    seen = []

    class Backend:
        name, formats = "stub", ("qrcode",)

    class Scripted(Reader):
        """The real event logic; the frame is the list of interpretations it shows."""

        def feed(self, frame, *, full_res=None):
            seen.append(full_res)
            return self.update(frame)

    reader = WorkflowReader(Scripted(ReaderSettings(second_look=False), Backend()))
    band = [Interpretation("patient", "qrcode", identity=patient)]
    seam = object()
    assert reader.feed(band, full_res=seam) == []  # first of two consecutive reads
    assert seen == [seam]
    assert reader.feed(band) == [PatientSeen(patient)]
    assert reader.feed(band) == [BandInView(patient)]  # still there: the read stays fresh
    assert reader.feed([]) == []  # gone
    reader.reset()
    assert reader.feed(band) == []  # a reset starts a new run
