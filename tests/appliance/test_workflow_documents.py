"""Document mode in the workflow: cards start, retake and end a document; clicks take pages;
the session's end or a new wristband closes it; a closed consent form is linked from photos."""

import pytest

from appliance.signals import SIGNALS
from appliance.workflow import (
    Audit,
    CaptureFinished,
    CardSeen,
    Click,
    CloseDocument,
    DocumentAction,
    DocumentFinished,
    DropPage,
    Hold,
    PageFinished,
    PatientSeen,
    Refusal,
    Rules,
    Signal,
    State,
    Stopping,
    TakeCapture,
    TakePage,
    Tick,
    Workflow,
)
from barcode.identity import Identity

ALICE = Identity("patient", "795123450000000013", "GS1", "ENC1", "scanned-gs1")
BOB = Identity("patient", "795123450000000020", "GS1", provenance="scanned-gs1")
DOC_ID = "0190f0c8-0000-7000-8000-000000000001"


def signals(effects):
    return [e.name for e in effects if isinstance(e, Signal)]


def audits(effects):
    return [e.event for e in effects if isinstance(e, Audit)]


def of(effects, kind):
    return [e for e in effects if isinstance(e, kind)]


def session_workflow(**rules):
    wf = Workflow(Rules(**rules))
    wf.handle(PatientSeen(ALICE), 0)
    return wf


def page(wf, now, error=None, reason=""):
    """Click, and answer the page request as the runtime would."""
    effects = wf.handle(Click(), now)
    (take,) = of(effects, TakePage)
    return take, wf.handle(PageFinished(take.request_id, error, reason), now)


def test_document_signals_are_in_the_signal_table():
    assert {"page_added", "document_closed", Refusal.PAGE_REFUSED.value} <= set(SIGNALS)


def test_a_document_card_with_no_patient_is_refused():
    wf = Workflow(Rules())
    effects = wf.handle(DocumentAction("referral"), 0)
    assert signals(effects) == ["no_patient"]
    assert audits(effects) == ["document_refused"]


def test_clicks_in_a_document_take_pages_not_photos_and_need_no_photo_consent():
    wf = session_workflow()  # consent required, not set
    effects = wf.handle(DocumentAction("referral"), 1)
    assert signals(effects) == ["tag_set"] and audits(effects) == ["document_started"]
    assert wf.steady_signal().name == "ready"
    take, done = page(wf, 2)
    assert take.document_type == "referral" and take.page == 1
    assert signals(done) == ["page_added"]
    take2, _ = page(wf, 3)
    assert take2.page == 2 and take2.document == take.document
    assert wf.snapshot()["session"]["document"] == {"type": "referral", "pages": 2,
                                                    "max_pages": 20}


def test_no_page_found_is_refused_and_not_counted():
    wf = session_workflow()
    wf.handle(DocumentAction("other"), 1)
    _, done = page(wf, 2, Refusal.PAGE_REFUSED, "off_frame")
    assert signals(done) == ["page_refused"]
    assert of(done, Audit)[0].fields == {"reason": "off_frame"}
    assert wf.session.document.pages == 0 and wf.state is State.SESSION
    # an empty document ends silently: nothing to seal, no signal
    effects = wf.handle(DocumentAction("end"), 3)
    assert of(effects, CloseDocument) == [] and signals(effects) == []
    assert audits(effects) == ["document_ended"]
    assert wf.session.document is None


def test_retake_drops_the_last_page():
    wf = session_workflow()
    wf.handle(DocumentAction("sketch"), 1)
    take, _ = page(wf, 2)
    page(wf, 3)
    effects = wf.handle(DocumentAction("retake"), 4)
    assert of(effects, DropPage) == [DropPage(take.document)]
    assert wf.session.document.pages == 1
    retake_page, _ = page(wf, 5)
    assert retake_page.page == 2


def test_retake_without_a_page_is_refused():
    wf = session_workflow()
    assert signals(wf.handle(DocumentAction("retake"), 1)) == ["invalid_read"]
    wf.handle(DocumentAction("sketch"), 2)
    effects = wf.handle(DocumentAction("retake"), 3)
    assert signals(effects) == ["invalid_read"] and of(effects, DropPage) == []


def test_end_card_closes_the_document_with_the_session_metadata():
    wf = session_workflow()
    wf.handle(CardSeen("consent", "teaching"), 1)
    wf.handle(DocumentAction("referral"), 2)
    page(wf, 3)
    page(wf, 4)
    effects = wf.handle(DocumentAction("end"), 5)
    (close,) = of(effects, CloseDocument)
    m = close.metadata
    assert m["patient_id"] == ALICE.id and m["issuer"] == "GS1" and m["encounter"] == "ENC1"
    assert m["document_type"] == "referral" and m["pages"] == 2
    assert m["session_id"] == wf.session.session_id and m["provenance"] == "scanned-gs1"
    assert "body_site" not in m and "sequence" not in m
    assert signals(effects) == []  # document_closed once it is sealed
    done = wf.handle(DocumentFinished(close.request_id, DOC_ID), 6)
    assert signals(done) == ["document_closed"] and audits(done) == ["document_stored"]
    assert wf.session.documents == 1 and wf.session.document is None
    # clicks take photos again
    assert of(wf.handle(Click(), 7), TakeCapture)


def test_a_document_fails_to_seal_shows_the_storage_refusal():
    wf = session_workflow()
    wf.handle(DocumentAction("referral"), 1)
    page(wf, 2)
    (close,) = of(wf.handle(DocumentAction("end"), 3), CloseDocument)
    done = wf.handle(DocumentFinished(close.request_id, error=Refusal.DISK_FULL), 4)
    assert signals(done) == ["disk_full"] and audits(done) == ["document_refused"]
    assert not wf.disk_ok
    assert wf.session.closing is None


def test_photos_wait_while_a_document_of_the_session_is_sealed():
    wf = session_workflow(consent_required=False)
    wf.handle(DocumentAction("consent-form"), 1)
    page(wf, 2)
    (close,) = of(wf.handle(DocumentAction("end"), 3), CloseDocument)
    effects = wf.handle(Click(), 3.1)
    assert signals(effects) == ["busy"] and of(effects, TakeCapture) == []
    wf.handle(DocumentFinished(close.request_id, DOC_ID), 3.2)
    (take,) = of(wf.handle(Click(), 3.3), TakeCapture)
    assert take.metadata["consent_form"] == DOC_ID
    assert wf.snapshot()["session"]["consent_form_on_file"] is True


def test_a_referral_is_not_a_consent_form():
    wf = session_workflow(consent_required=False)
    wf.handle(DocumentAction("referral"), 1)
    page(wf, 2)
    (close,) = of(wf.handle(DocumentAction("end"), 3), CloseDocument)
    wf.handle(DocumentFinished(close.request_id, DOC_ID), 4)
    (take,) = of(wf.handle(Click(), 5), TakeCapture)
    assert "consent_form" not in take.metadata
    assert wf.snapshot()["session"]["consent_form_on_file"] is False


def test_the_consent_form_link_stays_in_its_session():
    wf = session_workflow(consent_required=False)
    wf.handle(DocumentAction("consent-form"), 1)
    page(wf, 2)
    effects = wf.handle(PatientSeen(BOB), 3)  # a new wristband closes the document
    (close,) = of(effects, CloseDocument)
    assert close.metadata["patient_id"] == ALICE.id
    assert "session_switched" in signals(effects)
    # Bob's photos are not held up by Alice's document, and never carry its link
    (take,) = of(wf.handle(Click(), 3.1), TakeCapture)
    assert "consent_form" not in take.metadata
    wf.handle(CaptureFinished(take.request_id, "cap-1"), 3.2)
    done = wf.handle(DocumentFinished(close.request_id, DOC_ID), 3.3)
    assert signals(done) == ["document_closed"]
    assert wf.session.patient == BOB and wf.session.consent_form is None


@pytest.mark.parametrize("end", [Hold(), CardSeen("end_session"), Tick()])
def test_the_end_of_the_session_closes_the_document(end):
    wf = session_workflow(idle_timeout_seconds=10)
    wf.handle(DocumentAction("sketch"), 1)
    page(wf, 2)
    effects = wf.handle(end, 100)
    (close,) = of(effects, CloseDocument)
    assert close.metadata["document_type"] == "sketch" and close.metadata["pages"] == 1
    assert "session_ended" in audits(effects) and wf.session is None
    assert signals(wf.handle(DocumentFinished(close.request_id, DOC_ID), 101)) == [
        "document_closed"]


def test_a_new_document_card_closes_the_open_one():
    wf = session_workflow()
    wf.handle(DocumentAction("referral"), 1)
    take, _ = page(wf, 2)
    effects = wf.handle(DocumentAction("sketch"), 3)
    (close,) = of(effects, CloseDocument)
    assert close.document == take.document and close.metadata["document_type"] == "referral"
    assert wf.session.document.document_type == "sketch"
    assert wf.session.document.document_id != take.document


def test_the_same_card_again_keeps_the_document_it_started():
    wf = session_workflow()
    wf.handle(DocumentAction("referral"), 1)
    first = wf.session.document.document_id
    effects = wf.handle(DocumentAction("referral"), 2)
    assert of(effects, CloseDocument) == [] and wf.session.document.document_id == first


def test_a_page_beyond_the_maximum_is_refused():
    wf = session_workflow(max_pages=2)
    wf.handle(DocumentAction("other"), 1)
    page(wf, 2)
    page(wf, 3)
    effects = wf.handle(Click(), 4)
    assert of(effects, TakePage) == [] and signals(effects) == ["page_refused"]
    assert of(effects, Audit)[0].fields["reason"] == "too_many_pages"
    assert wf.state is State.SESSION


def test_cards_wait_for_a_page_in_flight():
    wf = session_workflow()
    wf.handle(DocumentAction("other"), 1)
    (take,) = of(wf.handle(Click(), 2), TakePage)
    assert signals(wf.handle(DocumentAction("end"), 2.1)) == ["busy"]
    assert signals(wf.handle(DocumentAction("retake"), 2.1)) == ["busy"]
    assert of(wf.handle(Hold(), 2.2), CloseDocument) == []
    wf.handle(PageFinished(take.request_id), 2.3)
    assert of(wf.handle(DocumentAction("end"), 3), CloseDocument)


def test_a_camera_fault_on_a_page_is_a_camera_fault():
    wf = session_workflow()
    wf.handle(DocumentAction("other"), 1)
    _, done = page(wf, 2, Refusal.CAMERA_FAULT)
    assert signals(done) == ["camera_fault"] and not wf.camera_ok
    assert wf.session.document.pages == 0


def test_pages_need_the_operator_when_required_and_a_fresh_band():
    wf = session_workflow(require_operator=True, rescan_after_seconds=60)
    wf.handle(DocumentAction("other"), 1)
    assert signals(wf.handle(Click(), 2)) == ["no_operator"]
    wf.operator = "GS1:1"
    assert signals(wf.handle(Click(), 100)) == ["rescan_needed"]


def test_stopping_seals_an_open_document():
    wf = session_workflow()
    wf.handle(DocumentAction("referral"), 1)
    page(wf, 2)
    (close,) = of(wf.handle(Stopping(), 3), CloseDocument)
    assert close.metadata["pages"] == 1
    assert wf.handle(Stopping(), 4) == []


def test_an_unknown_document_action_is_an_invalid_read():
    wf = session_workflow()
    assert signals(wf.handle(DocumentAction("poster"), 1)) == ["invalid_read"]


def test_document_cards_become_document_actions():
    from appliance.compose import to_workflow_event
    from barcode.commands import Command
    from barcode.reader import CommandRead

    for value in ("consent-form", "end", "retake"):
        event = to_workflow_event(CommandRead(Command("document", value)))
        assert event == DocumentAction(value, "card")
