"""The station side of the document crash test, run as its own process (``python -m``).

It runs a real station (fake camera showing page scenes, the real vault in ``argv[1]``),
seals one two-page consent form, then opens a second document and keeps one page of it in
memory, prints ``READY <sealed document id>`` and waits to be killed with SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from appliance.paths import StatePaths
from appliance.station import Station, StationInfo
from appliance.vault import Vault
from appliance.workflow import Click, DocumentAction, PatientSeen, Rules, Workflow
from barcode.identity import Identity
from capture.fake import FakeCamera, Scene
from capture.fake_page import PageScene

PATIENT = Identity("patient", "CRASHDOC-PATIENT-4711", "HOSP-A", provenance="scanned")


class NoReader:
    def feed(self, luma, *, full_res=None):
        return []

    def reset(self):
        pass


def wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main() -> None:
    vault = Vault(StatePaths(Path(sys.argv[1])), reserve_bytes=0)
    camera = FakeCamera(Scene(page=PageScene()), still_size=(2028, 1520))
    workflow = Workflow(Rules(consent_required=False))
    station = Station(workflow=workflow, camera=camera, reader=NoReader(), store=vault,
                      audit=vault.audit, info=StationInfo(vault.station_id, "room"))
    station.start()
    station.dispatch(PatientSeen(PATIENT))
    station.dispatch(DocumentAction("consent-form"))
    for pages in (1, 2):
        station.dispatch(Click())
        wait(lambda n=pages: workflow.session.document.pages == n
             and workflow.state.value == "session")
    station.dispatch(DocumentAction("end"))
    wait(lambda: station.document_ids)
    station.dispatch(DocumentAction("referral"))
    station.dispatch(Click())
    wait(lambda: workflow.session.document.pages == 1 and workflow.state.value == "session")
    print("READY", station.document_ids[0], flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
