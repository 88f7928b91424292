"""Table tests over the workflow's transitions: every rule, every refusal, with a fake clock."""

import pytest

from appliance.signals import SIGNALS
from appliance.workflow import (
    Audit,
    BandInView,
    CaptureFinished,
    CardSeen,
    CaregiverSeen,
    Click,
    ConflictSeen,
    HealthChanged,
    Hold,
    InvalidSeen,
    OperatorLogin,
    PatientSeen,
    Refusal,
    Rules,
    SetTags,
    Signal,
    State,
    TakeCapture,
    Tick,
    Workflow,
)
from barcode.identity import Identity

ALICE = Identity("patient", "795123450000000013", "GS1", "ENC1", "scanned-gs1")
BOB = Identity("patient", "795123450000000020", "GS1", provenance="scanned-gs1")
NURSE = Identity("caregiver", "795123450000009999", "GS1", provenance="scanned-gs1")


def signals(effects):
    return [e.name for e in effects if isinstance(e, Signal)]


def audits(effects):
    return [e.event for e in effects if isinstance(e, Audit)]


def captures(effects):
    return [e for e in effects if isinstance(e, TakeCapture)]


def ready_workflow(**rules):
    wf = Workflow(Rules(**rules))
    wf.handle(PatientSeen(ALICE), 0)
    wf.handle(CardSeen("consent", "teaching"), 1)
    return wf


def capture(wf, now, error=None):
    effects = wf.handle(Click(), now)
    (take,) = captures(effects)
    done = wf.handle(CaptureFinished(take.request_id, None if error else "cap-1", error), now)
    return take, done


def test_every_signal_the_workflow_emits_is_in_the_table():
    names = {r.value for r in Refusal} | {
        "idle", "needs_consent", "ready", "capturing", "patient_identified",
        "session_switched", "operator_identified", "tag_set", "captured", "session_ended"}
    assert names <= set(SIGNALS)


def test_no_patient_no_capture():
    wf = Workflow(Rules())
    effects = wf.handle(Click(), 0)
    assert signals(effects) == ["no_patient"]
    assert captures(effects) == []
    assert audits(effects) == ["capture_refused"]
    assert wf.state is State.IDLE


def test_patient_then_consent_then_capture():
    wf = Workflow(Rules())
    assert signals(wf.handle(PatientSeen(ALICE), 0)) == ["patient_identified"]
    assert wf.steady_signal().name == "needs_consent"
    assert signals(wf.handle(CardSeen("consent", "teaching"), 1)) == ["tag_set"]
    wf.handle(CardSeen("body_site", "heel"), 2)
    wf.handle(CardSeen("laterality", "left"), 3)
    assert wf.steady_signal().name == "ready"
    effects = wf.handle(Click(), 4)
    assert signals(effects) == ["capturing"]
    (take,) = captures(effects)
    meta = take.metadata
    assert (meta["patient_id"], meta["issuer"], meta["encounter"]) == (ALICE.id, "GS1", "ENC1")
    assert (meta["consent"], meta["body_site"], meta["laterality"]) == ("teaching", "heel", "left")
    assert meta["provenance"] == "scanned-gs1"
    assert meta["emergency_override"] is False
    assert wf.state is State.CAPTURING
    done = wf.handle(CaptureFinished(take.request_id, "cap-1"), 5)
    assert signals(done) == ["captured"]
    assert wf.state is State.SESSION
    assert wf.session.captures == 1


def test_missing_consent_refused_when_required():
    wf = Workflow(Rules(consent_required=True))
    wf.handle(PatientSeen(ALICE), 0)
    effects = wf.handle(Click(), 1)
    assert signals(effects) == ["no_consent"]
    assert captures(effects) == []


def test_consent_not_required_allows_capture():
    wf = Workflow(Rules(consent_required=False))
    wf.handle(PatientSeen(ALICE), 0)
    assert wf.steady_signal().name == "ready"
    assert len(captures(wf.handle(Click(), 1))) == 1


def test_emergency_override_disabled_is_refused():
    wf = Workflow(Rules(emergency_override=False))
    wf.handle(PatientSeen(ALICE), 0)
    assert signals(wf.handle(CardSeen("consent", "emergency-override"), 1)) == [
        "override_disabled"]
    assert signals(wf.handle(Click(), 2)) == ["no_consent"]


def test_emergency_override_enabled_is_recorded():
    wf = Workflow(Rules(emergency_override=True))
    wf.handle(PatientSeen(ALICE), 0)
    effects = wf.handle(CardSeen("consent", "emergency-override"), 1)
    assert "emergency_override" in audits(effects)
    take, done = capture(wf, 2)
    assert take.metadata["emergency_override"] is True
    assert take.metadata["consent"] == "emergency-override"
    (audit,) = [e for e in done if isinstance(e, Audit)]
    assert audit.fields["emergency_override"] is True


def test_different_wristband_ends_session_visibly_and_starts_new():
    wf = ready_workflow()
    old = wf.session.session_id
    effects = wf.handle(PatientSeen(BOB), 10)
    assert audits(effects) == ["session_ended", "session_started"]
    assert signals(effects) == ["session_switched"]
    assert wf.session.patient.key == BOB.key
    assert wf.session.session_id != old
    # consent does not carry over to the new patient
    assert signals(wf.handle(Click(), 11)) == ["no_consent"]


def test_same_wristband_again_is_quiet():
    wf = ready_workflow()
    assert wf.handle(PatientSeen(ALICE), 5) == []


def test_wristband_during_capture_does_not_switch():
    wf = ready_workflow()
    (take,) = captures(wf.handle(Click(), 2))
    assert signals(wf.handle(PatientSeen(BOB), 2.1)) == ["busy"]
    wf.handle(CaptureFinished(take.request_id, "c"), 2.2)
    assert wf.session.patient.key == ALICE.key


def test_double_press_takes_one_photo():
    wf = ready_workflow()
    first = wf.handle(Click(), 2)
    second = wf.handle(Click(), 2.05)
    assert len(captures(first)) == 1
    assert captures(second) == []
    assert audits(second) == ["capture_refused"]


def test_two_presses_after_each_other_take_two_photos():
    wf = ready_workflow()
    capture(wf, 2)
    capture(wf, 3)
    assert wf.session.captures == 2


def test_long_press_ends_session():
    wf = ready_workflow()
    effects = wf.handle(Hold(), 3)
    assert signals(effects) == ["session_ended"]
    assert wf.state is State.IDLE and wf.session is None
    assert signals(wf.handle(Click(), 4)) == ["no_patient"]


def test_long_press_while_idle_does_nothing():
    assert Workflow(Rules()).handle(Hold(), 0) == []


def test_end_session_card():
    wf = ready_workflow()
    assert signals(wf.handle(CardSeen("end_session"), 3)) == ["session_ended"]
    assert wf.session is None


def test_idle_timeout_ends_session_and_forgets_operator():
    wf = ready_workflow(idle_timeout_seconds=120)
    wf.handle(CaregiverSeen(NURSE), 1)
    assert wf.handle(Tick(), 100) == []
    effects = wf.handle(Tick(), 121.5)
    assert audits(effects) == ["session_ended"]
    assert wf.session is None
    assert wf.operator is None


def test_activity_postpones_timeout():
    wf = ready_workflow(idle_timeout_seconds=120)
    capture(wf, 100)
    assert wf.handle(Tick(), 200) == []
    assert wf.session is not None


def test_timeout_does_not_interrupt_a_capture():
    wf = ready_workflow(idle_timeout_seconds=10)
    wf.handle(Click(), 2)
    assert wf.handle(Tick(), 50) == []
    assert wf.state is State.CAPTURING


@pytest.mark.parametrize(("health", "signal"), [
    (HealthChanged(enrolled=False, disk_ok=True, camera_ok=True), "not_enrolled"),
    (HealthChanged(enrolled=True, disk_ok=False, camera_ok=True), "disk_full"),
    (HealthChanged(enrolled=True, disk_ok=True, camera_ok=False), "camera_fault"),
])
def test_health_refusals_have_their_own_signal(health, signal):
    wf = ready_workflow()
    effects = wf.handle(health, 2)
    assert signals(effects) == [signal]
    assert wf.steady_signal().name == signal
    refused = wf.handle(Click(), 3)
    assert signals(refused) == [signal]
    assert captures(refused) == []
    wf.handle(HealthChanged(True, True, True), 4)
    assert wf.steady_signal().name == "ready"


@pytest.mark.parametrize(("error", "signal"), [
    (Refusal.DISK_FULL, "disk_full"),
    (Refusal.CAMERA_FAULT, "camera_fault"),
    (Refusal.NOT_ENROLLED, "not_enrolled"),
])
def test_capture_failures_are_signalled_and_remembered(error, signal):
    wf = ready_workflow()
    _take, done = capture(wf, 2, error=error)
    assert signals(done) == [signal]
    assert wf.state is State.SESSION
    assert wf.session.captures == 0
    assert signals(wf.handle(Click(), 3)) == [signal]


def test_stale_capture_answer_is_ignored():
    wf = ready_workflow()
    wf.handle(Click(), 2)
    assert wf.handle(CaptureFinished("someone-else", "x"), 3) == []
    assert wf.state is State.CAPTURING


def test_conflict_is_refused_and_keeps_session():
    wf = ready_workflow()
    effects = wf.handle(ConflictSeen(), 2)
    assert signals(effects) == ["conflict"]
    assert wf.session.patient.key == ALICE.key


def test_conflict_while_idle_identifies_nobody():
    wf = Workflow(Rules())
    wf.handle(ConflictSeen(), 0)
    assert wf.session is None


def test_cards_without_patient_are_refused():
    wf = Workflow(Rules())
    for card in (CardSeen("consent", "teaching"), CardSeen("body_site", "heel"),
                 CardSeen("laterality", "left")):
        assert signals(wf.handle(card, 0)) == ["no_patient"]
    assert wf.handle(CardSeen("end_session"), 0) == []


def test_unknown_card_values_are_invalid():
    wf = Workflow(Rules(body_sites=("heel", "knee")))
    wf.handle(PatientSeen(ALICE), 0)
    for card in (CardSeen("consent", "maybe"), CardSeen("body_site", "elbow"),
                 CardSeen("laterality", "upper"), CardSeen("colour", "red")):
        assert signals(wf.handle(card, 1)) == ["invalid_read"]
    assert wf.session.body_site is None


def test_invalid_read_signal():
    wf = Workflow(Rules())
    assert signals(wf.handle(InvalidSeen("check digit"), 0)) == ["invalid_read"]


def test_operator_required():
    wf = ready_workflow(require_operator=True)
    assert signals(wf.handle(Click(), 2)) == ["no_operator"]
    assert signals(wf.handle(CaregiverSeen(NURSE), 3)) == ["operator_identified"]
    take, _ = capture(wf, 4)
    assert take.metadata["operator"] == f"GS1:{NURSE.id}"


def test_operator_from_web_login():
    wf = ready_workflow(require_operator=True)
    wf.handle(OperatorLogin("web:nurse.jane"), 2)
    take, _ = capture(wf, 3)
    assert take.metadata["operator"] == "web:nurse.jane"


def test_web_tags():
    wf = Workflow(Rules())
    assert signals(wf.handle(SetTags(consent="teaching"), 0)) == ["no_patient"]
    wf.handle(PatientSeen(ALICE), 0)
    wf.handle(SetTags(consent="publication", laterality="right"), 1)
    take, _ = capture(wf, 2)
    assert take.metadata["consent"] == "publication"
    assert take.metadata["laterality"] == "right"


def test_person_repr_hides_identifier():
    assert ALICE.id not in repr(ALICE)
    assert ALICE.id not in str(Workflow(Rules()).snapshot())
    wf = ready_workflow()
    assert ALICE.id not in str(wf.snapshot())


def test_dispatch_is_by_event_class_not_by_name():
    wf = ready_workflow()
    before = wf.snapshot()
    look_alike = type("Click", (), {})()  # same name as an event, not the event class
    with pytest.raises(TypeError, match="not a workflow event"):
        wf.handle(look_alike, 2)
    assert wf.snapshot() == before
    assert signals(wf.handle(Click(), 2)) == ["capturing"]


# ---- mix-ups: the wrong patient must never get the photo -------------------------------------
def test_a_new_wristband_mid_session_switches_visibly_and_resets_consent():
    wf = ready_workflow()
    capture(wf, 10)
    old = wf.session.session_id
    effects = wf.handle(PatientSeen(BOB), 20)
    assert signals(effects) == ["session_switched"]
    assert audits(effects) == ["session_ended", "session_started"]
    assert wf.session.patient.key == BOB.key and wf.session.session_id != old
    assert signals(wf.handle(Click(), 21)) == ["no_consent"]  # consent was Alice's
    wf.handle(CardSeen("consent", "record-only"), 22)
    take, _ = capture(wf, 23)
    assert take.metadata["patient_id"] == BOB.id


def test_two_patients_in_view_identify_nobody_and_doubt_the_session():
    wf = ready_workflow()
    assert signals(wf.handle(ConflictSeen(), 5)) == ["conflict"]
    assert wf.session.patient.key == ALICE.key  # nobody new
    effects = wf.handle(Click(), 6)
    assert signals(effects) == ["rescan_needed"] and captures(effects) == []
    wf.handle(PatientSeen(ALICE), 7)  # Alice's band alone again
    take, _ = capture(wf, 8)
    assert take.metadata["patient_id"] == ALICE.id


def test_a_conflict_doubts_the_session_even_with_the_time_limit_off():
    wf = ready_workflow(rescan_after_seconds=0)
    wf.handle(ConflictSeen(), 5)
    assert signals(wf.handle(Click(), 6)) == ["rescan_needed"]


def test_a_staff_badge_is_never_a_patient():
    wf = Workflow(Rules())
    effects = wf.handle(CaregiverSeen(NURSE), 0)
    assert signals(effects) == ["operator_identified"]
    assert wf.session is None
    assert signals(wf.handle(Click(), 1)) == ["no_patient"]
    # Held up during a session it names the operator and leaves the patient alone.
    wf = ready_workflow()
    wf.handle(CaregiverSeen(NURSE), 2)
    take, _ = capture(wf, 3)
    assert take.metadata["patient_id"] == ALICE.id
    assert take.metadata["operator"] == f"GS1:{NURSE.id}"


def test_a_session_left_idle_ends_and_the_next_patient_needs_a_scan():
    wf = ready_workflow()
    assert audits(wf.handle(Tick(), 1 + 120)) == ["session_ended"]
    assert signals(wf.handle(Click(), 125)) == ["no_patient"]


def test_default_a_capture_long_after_the_band_was_read_needs_it_again():
    rules = Rules()
    assert rules.rescan_after_seconds == 300  # the documented default
    wf = ready_workflow()
    # A busy session: a photo every 100 s keeps it from timing out...
    for t in (100, 200, 300):
        take, _ = capture(wf, t)
        assert take.metadata["patient_id"] == ALICE.id
    # ...but 300 s after the band was read a new patient may be sitting there.
    effects = wf.handle(Click(), 301)
    assert signals(effects) == ["rescan_needed"]
    assert audits(effects) == ["capture_refused"]
    assert [e.fields for e in effects if isinstance(e, Audit)] == [{"reason": "rescan_needed"}]
    assert wf.state is State.SESSION and wf.session.consent == "teaching"
    # Alice's band again: same session, tags kept, the next click captures.
    session = wf.session.session_id
    assert wf.handle(PatientSeen(ALICE), 305) == []
    take, _ = capture(wf, 306)
    assert take.metadata["session_id"] == session
    # Somebody else's band instead: a new session, as always.
    assert signals(wf.handle(Click(), 306 + 301)) == ["rescan_needed"]
    assert signals(wf.handle(PatientSeen(BOB), 610)) == ["session_switched"]


def test_a_band_kept_in_view_stays_fresh_but_never_starts_a_session():
    wf = ready_workflow()
    for t in range(0, 1000, 100):
        wf.handle(BandInView(ALICE), t)
    take, _ = capture(wf, 1000)
    assert take.metadata["patient_id"] == ALICE.id
    # It does not switch to someone else's band, nor restart an ended session.
    assert wf.handle(BandInView(BOB), 1001) == []
    assert wf.session.patient.key == ALICE.key
    wf.handle(Hold(), 1002)
    assert wf.handle(BandInView(ALICE), 1003) == [] and wf.session is None


def test_the_time_limit_can_be_turned_off():
    wf = ready_workflow(rescan_after_seconds=0)
    for t in (100, 200, 300, 400):
        capture(wf, t)
    take, _ = capture(wf, 500)
    assert take.metadata["patient_id"] == ALICE.id
