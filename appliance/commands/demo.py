"""``capture-station demo``: a practice receiver and a station on this machine, no Pi needed.

It does what IT and a nurse would do, with real parts: initialises a receiver
(``DIR/receiver``), starts ``capture-receiver serve`` advertising over mDNS on loopback, issues a
one-time token, enrols the station through mDNS with the pinned key (``capture-station enrol``),
then runs the station (state in ``DIR/station``) with a fake camera and gpiozero's MockFactory
pins. The camera shows the demo wristband (a genuine GS1 DataMatrix), then a consent card, then
the clinical subject; Enter (or the demo button in the web UI) presses the capture button, and
the terminal shows one line per step of each photo (captured, delivered, filed; details and
every log line with ``--verbose``). The receiver also serves the practice's
patient-file UI (``practice: <url>``, signed in with ``practice-login: <user> <password>``).

``--scenario smoke`` runs the same unattended: a two-page consent form scanned in document mode
(document card, two page scenes, end card), three captures (which link the form), delivery,
then the station discards one delivered capture (a retraction) and amends another; it opens
the filed captures at the receiver and compares them with what the camera took, and opens the
sealed document with the practice key to a two-page PDF; its last line is JSON.

Without ``--workdir`` everything lives in a fresh temporary folder, removed when the demo ends
(Ctrl-D, Ctrl-C or SIGTERM): the receiver files decrypted photos there.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from barcode.commands import Command
from barcode.gs1 import with_check_digit
from capture.fake import FakeCamera, Scene, Symbol
from capture.fake_page import PageScene
from websecurity.usercli import generate_password

from ..config import load_config
from ..sample_config import toml_value
from ._common import CommandError, new_command
from ._demo_output import EventReporter, quiet_logging, relay_receiver_log, remove_workdir

#: A fictitious patient: a GSRN (AI 8018) on the GS1 example company prefix 795...
DEMO_PATIENT_GSRN = with_check_digit("79512345000000001")
DEMO_ENCOUNTER = "2611270001"  # SRIN (AI 8019): up to 10 digits
DEMO_WRISTBAND = Symbol("datamatrix", f"(8018){DEMO_PATIENT_GSRN}(8019){DEMO_ENCOUNTER}",
                        gs1=True, module_px=12, center=(0.72, 0.6))
DEMO_CONSENT = Symbol("qrcode", Command("consent", "teaching").payload, module_px=10,
                      center=(0.7, 0.55))
DOCUMENT_TYPE = "consent-form"


def card_scene(action: str) -> Scene:
    """A document card (``CSCMD1:document:<action>``) held up to the camera."""
    return Scene(symbols=(Symbol("qrcode", Command("document", action).payload, module_px=10,
                                 center=(0.7, 0.55)),))


#: Two pages of a form on the desk, each lying differently (tilted, turned, off-centre).
PAGE_SCENES = (Scene(page=PageScene(tilt=18.0, rotation=5.0)),
               Scene(page=PageScene(tilt=10.0, tilt_axis=120.0, rotation=-7.0,
                                    offset=(0.04, 0.02)), seed=9))
WRISTBAND_SCENE = Scene(symbols=(DEMO_WRISTBAND,))
CONSENT_SCENE = Scene(symbols=(DEMO_CONSENT,))
SUBJECT_SCENE = Scene()
DEMO_BUTTON_PIN = 17
STILL_SIZE = (4056, 3040)
PRACTICE_USER = "demo-practice"
AMENDED_NOTE = "demo: amended at the station"


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "demo", "run a receiver and a station on this machine")
    parser.add_argument("--workdir", type=Path,
                        help="folder for both, kept afterwards (default: a fresh temporary "
                        "folder, removed when the demo ends)")
    parser.add_argument("--no-input", action="store_true",
                        help="do not read stdin; run until SIGTERM")
    parser.add_argument("--scenario", choices=("interactive", "smoke"), default="interactive",
                        help="smoke: scan, capture three times, check delivery, print JSON")
    parser.add_argument("--verbose", action="store_true",
                        help="show every log line (each delivery attempt, the receiver's log)")
    parser.add_argument("--web-port", type=int, default=0,
                        help="port of the station's web UI (default: a free one)")
    parser.set_defaults(func=run)


def _cli(*args: str, module: str = "practice.cli",
         **kwargs: Any) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                            text=True, check=False, timeout=120, **kwargs)
    if result.returncode != 0:
        raise CommandError(f"demo: `{' '.join(args[:1])}` failed: {result.stderr.strip()}")
    return result


class DemoReceiver:
    """``capture-receiver serve`` in a child process, advertising on loopback only."""

    def __init__(self, data_dir: Path, say: Any = print, verbose: bool = False) -> None:
        self.data_dir = data_dir
        self._say = say
        self._verbose = verbose
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.ui_url = ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "practice.cli", "serve", "--data-dir", str(self.data_dir),
             "--host", "127.0.0.1", "--port", "0", "--mdns-interface", "127.0.0.1",
             "--ui-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stderr is not None
        relay_receiver_log(self.process.stderr, self._say, self._verbose)
        line = self.process.stdout.readline()
        ui = self.process.stdout.readline()
        if "listening on" not in line or not ui.startswith("practice UI: "):
            self.stop()
            raise CommandError("demo: the receiver did not start")
        self.address = line.split("listening on ", 1)[1].split()[0]
        self.ui_url = ui.split()[2]

    def filed(self) -> list[Path]:
        """The photos in the patient folders (not their thumbnails, not quarantined ones)."""
        return sorted(p for p in (self.data_dir / "inbox").rglob("*.jpg")
                      if not p.name.endswith(".thumb.jpg"))

    def filed_documents(self) -> list[Path]:
        """The documents (PDFs) in the patient folders."""
        return sorted((self.data_dir / "inbox").rglob("*.pdf"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _write_station_config(path: Path, state_dir: Path, web_port: int) -> None:
    values = {
        "station": {"name": "demo-exam-room", "state_dir": str(state_dir)},
        "camera": {"backend": "fake", "still_width": STILL_SIZE[0],
                   "still_height": STILL_SIZE[1]},
        "gpio": {"pin_factory": "mock", "button_pin": DEMO_BUTTON_PIN},
        "vault": {"reserve_mb": 64, "review_window_hours": 1.0},
        "sync": {"interfaces": ["127.0.0.1"], "retry_min_seconds": 0.5,
                 "retry_max_seconds": 5.0},
        "web": {"listen": "127.0.0.1", "port": max(web_port, 1)},
    }
    lines = ["# written by `capture-station demo`"]
    for section, keys in values.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")


class RecordingCamera(FakeCamera):
    """The fake camera, remembering each still it handed out (for the smoke comparison)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stills: list[bytes] = []

    def capture_jpeg(self) -> bytes:
        data = super().capture_jpeg()
        self.stills.append(data)
        return data


def _press(factory: Any) -> None:
    pin = factory.pin(DEMO_BUTTON_PIN)
    pin.drive_low()
    time.sleep(0.1)  # a real press, longer than the debounce time
    pin.drive_high()


def _wait(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _show_wristband_then_consent(camera: FakeCamera, assembly: Any, timeout: float = 20) -> bool:
    """What the nurse does: wristband to the camera, then the consent card, then the wound."""
    workflow = assembly.station.workflow
    camera.set_scene(WRISTBAND_SCENE)
    if not _wait(lambda: workflow.session is not None, timeout):
        return False
    camera.set_scene(CONSENT_SCENE)
    ok = _wait(lambda: workflow.session is not None and workflow.session.consent is not None,
               timeout)
    camera.set_scene(SUBJECT_SCENE)
    return ok


def _scan_document(camera: FakeCamera, assembly: Any, factory: Any,
                   timeout: float = 30) -> str | None:
    """What the nurse does for a document: its card, one press per page, the end card.
    Returns the sealed document's id (None if a step did not happen)."""
    station = assembly.station
    workflow = station.workflow

    def document() -> Any:
        return workflow.session.document if workflow.session is not None else None

    camera.set_scene(card_scene(DOCUMENT_TYPE))
    if not _wait(lambda: document() is not None, timeout):
        return None
    for number, scene in enumerate(PAGE_SCENES, 1):
        camera.set_scene(scene)
        _press(factory)
        if not _wait(lambda n=number: (document() is not None and document().pages >= n
                                       and workflow.state.value != "capturing"), timeout):
            return None
    camera.set_scene(card_scene("end"))
    _wait(lambda: station.document_ids, timeout)
    camera.set_scene(SUBJECT_SCENE)
    return station.document_ids[0] if station.document_ids else None


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    quiet_logging(args.verbose)
    temporary = args.workdir is None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="capture-demo-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    smoke = args.scenario == "smoke"
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if smoke else (
        lambda *a: print(*a, flush=True))
    try:
        return _run(args, workdir, smoke, say, started)
    finally:
        if temporary:
            remove_workdir(workdir, say)


class _Stopped(Exception):
    """SIGTERM while the demo waits for Enter: end the way Ctrl-D does."""


def _run(args: argparse.Namespace, workdir: Path, smoke: bool, say: Any,
         started: float) -> int:
    from gpiozero.pins.mock import MockFactory

    from ..compose import assemble
    from ..web.accounts import open_accounts

    receiver_dir, station_dir = workdir / "receiver", workdir / "station"
    if not (receiver_dir / "keys").exists():
        _cli("init", "--data-dir", str(receiver_dir), "--name",
             f"demo-practice-{secrets.token_hex(3)}")
    practice_password = _practice_login(receiver_dir)
    receiver = DemoReceiver(receiver_dir, say, args.verbose)
    receiver.start()
    stop = threading.Event()
    waiting_for_enter = threading.Event()

    def on_sigterm(*_: object) -> None:
        stop.set()
        if waiting_for_enter.is_set():
            raise _Stopped

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        config_path = workdir / "station.toml"
        _write_station_config(config_path, station_dir, args.web_port)
        cfg = load_config(config_path, environ={})
        if not (station_dir / "enrolment.json").exists():
            token = workdir / "provision.toml"
            _cli("token", "--data-dir", str(receiver_dir), "--name", "demo-exam-room",
                 "--out", str(token), "--hours", "1")
            out = _cli("enrol", "--config", str(config_path), "--provision", str(token),
                       module="appliance.cli")
            token.unlink(missing_ok=True)
            say(out.stdout.strip())
        say(f"receiver: {receiver.address} files into {receiver_dir / 'inbox'}")
        say(f"practice: {receiver.ui_url}")
        say(f"practice-login: {PRACTICE_USER} {practice_password}")

        factory = MockFactory()
        camera = RecordingCamera(SUBJECT_SCENE, still_size=STILL_SIZE)
        assembly = assemble(cfg, camera=camera, pin_factory=factory, web=not smoke,
                            web_port=args.web_port, demo_press=lambda: _press(factory),
                            idle_poll_seconds=1.0)
        with assembly:
            if smoke:
                return _smoke(assembly, camera, factory, receiver, started)
            password = generate_password()
            accounts = open_accounts(assembly.paths)
            if accounts.get("demo-admin") is None:
                accounts.add("demo-admin", "admin", password=password)
            else:
                accounts.set_password("demo-admin", password)
            say(f"web: {assembly.web.url()}")
            say(f"login: demo-admin {password}")
            say(f"station {assembly.vault.station_id} enrolled; showing the demo wristband, "
                "then a consent card...")
            if _show_wristband_then_consent(camera, assembly):
                say("patient identified, consent set: press Enter to press the capture button "
                    "(Ctrl-D or SIGTERM stops)")
            else:
                say("the demo wristband was not identified (--verbose shows the log)")
            events = EventReporter(assembly, lambda: receiver.filed() + receiver.filed_documents(),
                                   say, stop).start()
            _pages_while_documenting(camera, assembly.station.workflow, stop)
            say("document mode: start a document on the status page; the camera then shows "
                "a page on the desk for each press")
            if args.no_input:
                stop.wait()
            else:
                waiting_for_enter.set()
                try:
                    for _line in sys.stdin:
                        _press(factory)
                        if stop.is_set():
                            break
                except _Stopped:
                    pass
                waiting_for_enter.clear()
            time.sleep(0.5)
            stop.set()  # before the station closes: the reporter reads its vault
            events.join(5)
        return 0
    finally:
        stop.set()
        receiver.stop()


def _practice_login(receiver_dir: Path) -> str:
    """A practice UI admin for the demo, with a fresh password each run (no default account:
    the demo makes one, as IT would with ``capture-receiver user add``)."""
    password = generate_password()
    listed = _cli("user", "--data-dir", str(receiver_dir), "list").stdout
    action = ("passwd",) if PRACTICE_USER in listed.split() else ("add", "--role", "admin")
    _cli("user", "--data-dir", str(receiver_dir), action[0], PRACTICE_USER, *action[1:],
         "--password-stdin", input=password + "\n")
    return password


def _pages_while_documenting(camera: FakeCamera, workflow: Any,
                             stop: threading.Event) -> None:
    """Interactive demo: while a document is open the camera sees a page on the desk (the
    next of :data:`PAGE_SCENES` for each page kept), else the clinical subject."""
    def follow() -> None:
        while not stop.wait(0.2):
            session = workflow.session
            document = session.document if session is not None else None
            camera.set_scene(SUBJECT_SCENE if document is None
                             else PAGE_SCENES[document.pages % len(PAGE_SCENES)])

    threading.Thread(target=follow, name="demo-pages", daemon=True).start()


def _smoke(assembly: Any, camera: RecordingCamera, factory: Any, receiver: DemoReceiver,
           started: float) -> int:
    from PIL import Image

    captures = 3
    identified = _show_wristband_then_consent(camera, assembly)
    document = _scan_document(camera, assembly, factory) if identified else None
    station = assembly.station
    for n in range(captures if identified else 0):
        _press(factory)
        _wait(lambda n=n: len(station.captured_ids) > n, 20)
    captured = len(station.captured_ids)
    def delivered_count(kind: str = "capture") -> int:
        return sum(1 for c in assembly.vault.list_captures(include_previous=True)
                   if c.delivered_at and c.kind == kind)

    _wait(lambda: delivered_count() >= captured
          and delivered_count("document") >= len(station.document_ids), 45, 0.2)
    delivered = delivered_count()
    _wait(lambda: len(receiver.filed()) >= captured, 10, 0.2)
    retracted, amended = _retract_and_amend(assembly, receiver, station.captured_ids)
    filed = receiver.filed()
    matches = 0
    for path in filed:
        sidecar = json.loads(path.with_suffix(".json").read_text())
        with Image.open(path) as image:
            pixels = image.tobytes()
        same_image = any(pixels == Image.open(io.BytesIO(j)).tobytes() for j in camera.stills)
        if (same_image and sidecar.get("patient_id") == DEMO_PATIENT_GSRN
                and sidecar.get("issuer") == "GS1"):
            matches += 1
    # The photos sealed after the consent form name it (read back with the review key).
    linked = sum(1 for capture_id in station.captured_ids[1:]
                 if document is not None and assembly.vault.open_for_review(
                     capture_id, operator="demo", preview_only=True
                 ).metadata.get("consent_form") == document)
    result = {
        "captured": captured,
        "delivered": delivered,
        "filed": len(filed),
        "patient_matches": matches,
        "retracted": retracted,
        "amended": amended,
        "document_delivered": delivered_count("document"),
        "document_pages": _opened_pages(assembly, receiver, document),
        "document_filed_pages": _filed_pages(receiver, document),
        "consent_form_linked": linked,
        "patient_id": DEMO_PATIENT_GSRN,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(result), flush=True)
    kept = captures - 1
    ok = identified and captured == captures and delivered == captures and \
        len(filed) == kept and matches == kept and retracted == 1 and amended == 1 and \
        result["document_delivered"] == 1 and result["document_pages"] == len(PAGE_SCENES) \
        and linked == kept
    return 0 if ok else 1


def _opened_pages(assembly: Any, receiver: DemoReceiver, document: str | None) -> int:
    """Pages of the PDF in the station's sealed document, opened as the practice opens it
    (``capture-receiver open``: the station's registered key, the practice key); 0 if not."""
    from documents import DocumentError, page_count

    if document is None:
        return 0
    sealed = assembly.vault.paths.captures / f"{document}.sealed"
    with tempfile.TemporaryDirectory(prefix="demo-open-") as out:
        _cli("open", "--data-dir", str(receiver.data_dir), str(sealed), "--out", out)
        pdfs = list(Path(out).glob("*.pdf"))
        try:
            return page_count(pdfs[0].read_bytes()) if len(pdfs) == 1 else 0
        except DocumentError:
            return 0


def _filed_pages(receiver: DemoReceiver, document: str | None) -> int:
    """Pages of the document as filed in the patient's folder (a PDF), 0 when not filed."""
    from documents import DocumentError, page_count

    if document is None:
        return 0
    for path in receiver.filed_documents():
        if document not in path.name:
            continue
        try:
            return page_count(path.read_bytes())
        except DocumentError:
            return 0
    return 0


def _retract_and_amend(assembly: Any, receiver: DemoReceiver,
                       captured: list[str]) -> tuple[int, int]:
    """At the station: discard the first delivered capture (a sealed retraction goes to the
    practice) and amend the second's note; wait until the practice shows both. Returns how
    many retractions and amendments the practice applied."""
    if len(captured) < 2:
        return 0, 0
    gone, changed = captured[0], captured[1]
    vault = assembly.vault
    vault.discard(gone, "poor_quality", "demo-nurse")
    vault.amend(changed, {"note": AMENDED_NOTE}, "demo-nurse")

    def sidecar(capture_id: str) -> dict | None:
        for path in (receiver.data_dir / "inbox").rglob(f"*_{capture_id}.json"):
            return json.loads(path.read_text())
        return None

    def applied() -> bool:
        note = (sidecar(changed) or {}).get("note")
        return sidecar(gone) is None and note == AMENDED_NOTE

    _wait(applied, 45, 0.2)
    retracted = int(sidecar(gone) is None and any(
        (receiver.data_dir / "retracted").rglob(f"*_{gone}.json")))
    amended = int((sidecar(changed) or {}).get("note") == AMENDED_NOTE)
    return retracted, amended
