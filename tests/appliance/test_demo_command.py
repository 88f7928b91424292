"""The demo, end to end: a real receiver process, mDNS on loopback, pinned enrolment, the real
station (fake camera, gpiozero MockFactory button) and delivery to the receiver's inbox."""

import json
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from appliance.commands.demo import AMENDED_NOTE, DEMO_PATIENT_GSRN
from documents import page_count
from tests.appliance.vault.plaintext import assert_no_plaintext


def test_smoke_scenario_press_to_filed_at_receiver(tmp_path):
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "demo", "--scenario", "smoke",
         "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=180, check=False, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["captured"] == summary["delivered"] == 3
    assert summary["retracted"] == summary["amended"] == 1
    assert summary["filed"] == summary["patient_matches"] == 2
    assert summary["patient_id"] == DEMO_PATIENT_GSRN
    # the two-page consent form: sealed, delivered, opened with the practice key to a PDF of
    # two pages and filed in the patient's folder; the photos after it name it
    assert summary["document_delivered"] == 1
    assert summary["document_pages"] == summary["document_filed_pages"] == 2
    assert summary["consent_form_linked"] == 2
    (pdf,) = (workdir / "receiver" / "inbox").rglob("*.pdf")
    assert pdf.parent.name == DEMO_PATIENT_GSRN and page_count(pdf.read_bytes()) == 2
    # the patient's folder holds exactly the photos that were not retracted
    photos = sorted(p for p in (workdir / "receiver" / "inbox").rglob("*.jpg")
                    if not p.name.endswith(".thumb.jpg"))
    assert len(photos) == 2
    assert all(p.parent.name == DEMO_PATIENT_GSRN and p.parent.parent.name == "GS1"
               for p in photos)
    quarantined = [p for p in (workdir / "receiver" / "retracted").rglob("*.jpg.retracted")
                   if not p.name.endswith(".thumb.jpg.retracted")]
    assert len(quarantined) == 1
    assert quarantined[0].name.removesuffix(".retracted") not in {p.name for p in photos}
    notes = [json.loads(p.with_suffix(".json").read_text()).get("note") for p in photos]
    assert notes.count(AMENDED_NOTE) == 1
    filed = photos
    sidecar = json.loads(filed[0].with_suffix(".json").read_text())
    assert sidecar["consent"] == "teaching"
    assert sidecar["provenance"] == "scanned-gs1"
    assert sidecar["station_name"] == "demo-exam-room"
    with Image.open(filed[0]) as image:
        assert image.size == (4056, 3040)
    # the station holds nothing readable: no JPEG, no PDF, no patient id, anywhere in its state (a
    # bare FF D8 FF turns up by chance in megabytes of ciphertext; the scan checks structure)
    assert_no_plaintext(workdir / "station", [DEMO_PATIENT_GSRN.encode()])


def test_interactive_demo_prints_web_and_login_and_presses_on_enter(tmp_path):
    workdir = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "demo", "--workdir", str(workdir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("patient identified"):
                process.stdin.write("\n")
                process.stdin.flush()
            if line.startswith("filed: "):
                break
        process.stdin.close()
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(lines)
    assert any(line.startswith("web: https://127.0.0.1:") for line in lines), text
    login = next(line for line in lines if line.startswith("login: ")).split()
    assert login[1] == "demo-admin" and len(login[2]) >= 12
    assert any(line.startswith("practice: https://127.0.0.1:") for line in lines), text
    practice = next(line for line in lines if line.startswith("practice-login: ")).split()
    assert practice[1] == "demo-practice" and len(practice[2]) >= 12
    filed = Path(next(line for line in lines if line.startswith("filed: "))[7:].strip())
    assert filed.is_file() and filed.suffix == ".jpg"
