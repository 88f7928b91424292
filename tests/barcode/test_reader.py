"""The reader: consecutive reads, conflicts, once-per-run events, config wiring, frames."""

import numpy as np
import pytest
from PIL import Image

from appliance.config import load_config
from barcode.backends import (
    BackendUnavailableError,
    FrameError,
    ZxingBackend,
    as_luma,
    make_backend,
)
from barcode.commands import Command
from barcode.identity import Identity
from barcode.reader import (
    CaregiverIdentified,
    CommandRead,
    Conflict,
    InvalidRead,
    PatientIdentified,
    ReaderSettings,
    build_reader,
)
from capture.fake import Scene, Symbol

from .corpus import BAD_PATIENT, CAREGIVER, ENCOUNTER, PATIENT, PATIENT_2, Case, frame

A = Identity("patient", PATIENT, "GS1")
A_ENC = Identity("patient", PATIENT, "GS1", ENCOUNTER)
B = Identity("patient", PATIENT_2, "GS1")
NURSE = Identity("caregiver", CAREGIVER, "GS1")


def _frame(*symbols):
    return frame(Case("reader", "640", Scene(symbols=tuple(symbols)), ()))


def dm(content, x=0.5):
    return Symbol("datamatrix", content, module_px=6, gs1=True, center=(x, 0.5))


def qr(content, x=0.5):
    return Symbol("qrcode", content, module_px=6, center=(x, 0.5))


EMPTY = _frame()
BAND_A = _frame(dm(f"(8018){PATIENT}"))
BAND_A_ENC = _frame(dm(f"(8018){PATIENT}(8019){ENCOUNTER}"))
BAND_A_TWO_ENCS = _frame(dm(f"(8018){PATIENT}(8019)999", 0.25),
                         dm(f"(8018){PATIENT}(8019){ENCOUNTER}", 0.75))
BAND_B = _frame(dm(f"(8018){PATIENT_2}"))
BOTH = _frame(dm(f"(8018){PATIENT}", 0.25), dm(f"(8018){PATIENT_2}", 0.75))
BADGE = _frame(Symbol("code128", f"(8017){CAREGIVER}", module_px=4, gs1=True))
BAND_AND_BADGE = _frame(dm(f"(8018){PATIENT}", 0.3),
                        Symbol("qrcode", f"(8017){CAREGIVER}", module_px=6, gs1=True,
                               center=(0.75, 0.5)))
BAD_BAND = _frame(dm(f"(8018){BAD_PATIENT}"))
TEACHING = _frame(qr("CSCMD1:consent:teaching"))
TWO_CONSENTS = _frame(qr("CSCMD1:consent:teaching", 0.25), qr("CSCMD1:consent:publication", 0.75))
CONSENT_AND_SIDE = _frame(qr("CSCMD1:consent:teaching", 0.25), qr("CSCMD1:laterality:left", 0.75))
UNKNOWN_CARD = _frame(qr("CSCMD1:consent:maybe"))


def reader(n=2, **barcode):
    return build_reader({"backends": ["zxing-cpp"], "consecutive_reads": n, **barcode},
                        ["arm"])


def run(r, frames):
    return [r.feed(f) for f in frames]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_patient_needs_n_consecutive_frames(n):
    r = reader(n)
    events = run(r, [BAND_A] * (n + 3))
    assert events[n - 1] == [PatientIdentified(A)]
    assert all(e == [] for i, e in enumerate(events) if i != n - 1)


def test_a_gap_restarts_the_count_and_reannounces():
    r = reader(2)
    assert run(r, [BAND_A, EMPTY, BAND_A, BAND_A, BAND_A, EMPTY, BAND_A, BAND_A]) == [
        [], [], [], [PatientIdentified(A)], [], [], [], [PatientIdentified(A)]]


def test_two_patients_in_one_frame_is_a_conflict_at_once_and_once():
    r = reader(2)
    events = run(r, [BOTH, BOTH, BOTH])
    assert events[0] == [Conflict((A, B))] and events[1:] == [[], []]


def test_conflict_even_when_one_read_is_enough():
    assert reader(1).feed(BOTH) == [Conflict((A, B))]


def test_alternating_bands_are_a_conflict_and_nobody_is_identified():
    r = reader(2)
    events = run(r, [BAND_A, BAND_B, BAND_A, BAND_B])
    assert events[1] == [Conflict((A, B))]
    assert not any(isinstance(e, PatientIdentified) for frame in events for e in frame)


def test_after_a_conflict_one_patient_must_be_alone_for_n_frames():
    r = reader(2)
    events = run(r, [BOTH, BAND_A, BAND_A, BAND_A])
    assert events == [[Conflict((A, B))], [], [PatientIdentified(A)], []]
    # A new conflict is reported again.
    assert r.feed(BAND_B) == [Conflict((A, B))]


def test_encounter_learnt_later_is_reported_and_not_flapping():
    r = reader(2)
    events = run(r, [BAND_A, BAND_A, BAND_A_ENC, BAND_A, BAND_A_ENC])
    assert events == [[], [PatientIdentified(A)], [PatientIdentified(A_ENC)], [], []]


def test_contradicting_encounters_are_a_conflict():
    events = reader(2).feed(BAND_A_TWO_ENCS)
    assert len(events) == 1 and isinstance(events[0], Conflict)
    assert {p.encounter for p in events[0].patients} == {"999", ENCOUNTER}


def test_caregiver_badge_never_identifies_a_patient():
    r = reader(2)
    events = run(r, [BADGE] * 4)
    assert events == [[], [CaregiverIdentified(NURSE)], [], []]


def test_band_and_badge_together_are_not_a_conflict():
    r = reader(2)
    events = run(r, [BAND_AND_BADGE, BAND_AND_BADGE])
    assert events[0] == []
    assert set(events[1]) == {PatientIdentified(A), CaregiverIdentified(NURSE)}


def test_command_card_is_one_command_per_showing():
    r = reader(2)
    events = run(r, [TEACHING] * 5 + [EMPTY] + [TEACHING] * 2)
    teaching = CommandRead(Command("consent", "teaching"))
    assert [e for f in events for e in f] == [teaching, teaching]
    assert events[1] == [teaching] and events[7] == [teaching]


def test_two_different_cards_of_one_kind_are_refused():
    r = reader(2)
    events = run(r, [TWO_CONSENTS, TWO_CONSENTS, TWO_CONSENTS])
    assert events == [[], [InvalidRead("several different consent cards in view", "qrcode")],
                      []]


def test_cards_of_different_kinds_are_both_read():
    r = reader(1)
    assert set(r.feed(CONSENT_AND_SIDE)) == {CommandRead(Command("consent", "teaching")),
                                            CommandRead(Command("laterality", "left"))}


def test_invalid_reads_are_reported_once_per_showing_without_data():
    r = reader(2)
    events = run(r, [BAD_BAND] * 3 + [UNKNOWN_CARD] * 2)
    flat = [e for f in events for e in f]
    assert flat == [
        InvalidRead("patient GSRN (8018) has a wrong check digit", "datamatrix"),
        InvalidRead("unknown consent command", "qrcode"),
    ]
    assert not any(BAD_PATIENT in e.reason for e in flat)


def test_reset_forgets_the_run():
    r = reader(2)
    r.feed(BAND_A)
    r.reset()
    assert r.feed(BAND_A) == []
    assert r.feed(BAND_A) == [PatientIdentified(A)]


def test_each_symbol_is_interpreted_once_and_a_band_kept_in_view_is_not_reparsed(monkeypatch):
    r = reader(2)
    parsed = []
    interpret = r.interpreter.interpret

    def counting(symbol):
        parsed.append(symbol.symbology)
        return interpret(symbol)

    monkeypatch.setattr(r.interpreter, "interpret", counting)
    assert r.feed(BAND_A) == []  # the second look asked whether a patient was read: one parse
    assert parsed == ["datamatrix"]
    assert r.feed(BAND_A) == [PatientIdentified(A)]  # the same band again: its meaning reused
    assert parsed == ["datamatrix"]
    assert r.feed(BAND_B) == [Conflict((A, B))]
    assert parsed == ["datamatrix", "datamatrix"]  # another symbol is parsed
    r.reset()
    r.feed(BAND_B)
    assert parsed == ["datamatrix"] * 3  # reset forgets the meanings too


def test_formats_restrict_what_is_read():
    r = reader(1, formats=["code128"])
    assert r.feed(BAND_A) == [] and r.read_frame(TEACHING) == []
    assert r.feed(BADGE) == [CaregiverIdentified(NURSE)]


def test_pil_images_and_strided_planes_are_accepted():
    r = reader(1)
    assert r.read_frame(Image.fromarray(BAND_A).convert("RGB"))[0].identity == A
    # picamera2 hands a YUV420 buffer; the Y plane is a view with a wider stride.
    h, w = BAND_A.shape
    yuv = np.zeros((h * 3 // 2, w + 64), dtype=np.uint8)
    yuv[:h, :w] = BAND_A
    assert r.read_frame(yuv[:h, :w])[0].identity == A
    assert as_luma(yuv[:h, :w]).base is yuv  # handed to the decoder as it is, not copied
    flipped = BAND_A[:, ::-1]  # other layouts are copied into plain rows
    assert as_luma(flipped).flags.c_contiguous and np.array_equal(as_luma(flipped), flipped)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32),
                                 b"not an image", None])
def test_bad_frames_raise_frame_error(bad):
    with pytest.raises(FrameError, match="expected"):
        reader(1).feed(bad)


def test_build_reader_from_a_real_station_config(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text(
        '[barcode]\nbackends = ["pyzbar", "zxing-cpp"]\nconsecutive_reads = 3\n'
        'formats = ["code128", "qrcode"]\nscan_rate_hz = 4.0\n'
        '[[barcode.local_formats]]\nsymbology = "code128"\npattern = \'^MRN(?P<id>\\d{8})$\'\n'
        'issuer = "ST-MARY"\n'
        '[workflow]\nbody_sites = ["arm", "left forearm"]\n'
    )
    cfg = load_config(path)
    r = build_reader(cfg.barcode, cfg.workflow.body_sites)
    assert r.backend.name == "pyzbar"
    assert r.settings.consecutive_reads == 3 and r.settings.interval == 0.25
    assert r.settings.body_sites == ("arm", "left forearm")
    mrn = _frame(Symbol("code128", "MRN20240117", module_px=4))
    assert run(r, [mrn] * 3)[2] == [PatientIdentified(
        Identity("patient", "20240117", "ST-MARY", None, "scanned-local"))]
    assert build_reader(cfg.barcode, backend="zxing-cpp").backend.name == "zxing-cpp"


def test_backend_preference_and_unavailability():
    assert make_backend(["pyzbar", "zxing-cpp"], ["datamatrix"]).name == "zxing-cpp"
    with pytest.raises(BackendUnavailableError, match="zbar reads only code128 and qrcode"):
        make_backend(["pyzbar"], ["datamatrix", "pdf417"])
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend(["zbar-ng"])
    with pytest.raises(ValueError, match="unknown symbologies"):
        ZxingBackend(["ean13"])


def test_settings_are_checked():
    with pytest.raises(ValueError, match="consecutive_reads"):
        ReaderSettings(consecutive_reads=0)
