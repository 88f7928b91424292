"""``capture-station demo``: the whole station on one machine, no Pi needed.

A fake camera shows a demo wristband and gpiozero's MockFactory stands in for the button and
LED; pressing Enter presses the button. The demo grows as the workflow, vault and delivery land.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from barcode.gs1 import with_check_digit
from capture.controls import CaptureButton, Pattern, StatusLight
from capture.fake import FakeCamera, Scene, Symbol

from ..cli import new_command

#: A fictitious patient: GS1 GSRN (AI 8018) built on the GS1 example company prefix.
DEMO_PATIENT_GSRN = with_check_digit("79512345000000001")
DEMO_WRISTBAND = Symbol("datamatrix", f"\x1d8018{DEMO_PATIENT_GSRN}", module_px=14,
                        center=(0.72, 0.6))

READY = Pattern("ready", color=(0, 1, 0))
FLASH = Pattern("captured", color=(0, 0, 1), on_time=0.1, off_time=0.1, repeat=2)


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "demo", "run a station with a fake camera and mock pins")
    parser.add_argument("--workdir", type=Path, help="state folder (default: a fresh temp dir)")
    parser.add_argument("--no-input", action="store_true",
                        help="do not read stdin; run until SIGTERM")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gpiozero.pins.mock import MockFactory

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="capture-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    factory = MockFactory()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    camera = FakeCamera(Scene(symbols=(DEMO_WRISTBAND,)), still_size=(2028, 1520))
    with camera, CaptureButton(17, pin_factory=factory) as button, \
            StatusLight(pin=27, pin_factory=factory) as light:
        light.show(READY)

        def on_click() -> None:
            jpeg = camera.capture_jpeg()
            light.show(FLASH)
            print(f"captured a {len(jpeg)}-byte still in memory", flush=True)
            light.show(READY)

        button.when_clicked = on_click
        print(f"demo station running; state in {workdir}", flush=True)
        print("press Enter to press the capture button; Ctrl-D or SIGTERM to stop", flush=True)
        if args.no_input:
            stop.wait()
            return 0
        pin = factory.pin(17)
        for _line in sys.stdin:
            pin.drive_low()
            time.sleep(0.1)  # a real press, longer than the debounce time
            pin.drive_high()
            if stop.is_set():
                break
    return 0
