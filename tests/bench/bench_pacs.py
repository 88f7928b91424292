"""Press to PACS in the demo set-up: ``press_to_pacs_s_p50`` (issue 15).

What a nurse's photo goes through before a radiologist can find it in the hospital's PACS,
with every real part the demo runs: a station assembled as ``capture-station run`` /
``capture-station demo`` assemble it (fake camera with 12 MP sensor-noise stills, gpiozero's
mock pins, the real workflow, vault and uploader), ``capture-receiver serve`` in its own
process (HTTPS, signature check, content check, open, file, queue, forwarder) with a real
Orthanc (Debian's, DICOMweb plugin) configured as its PACS destination. All three run in a
network namespace that has only ``lo`` (Orthanc cannot bind to loopback alone), so this needs
root; without it the figure is skipped with the reason.

One sample per press, one press at a time: from the capture button's release on the mock pin
(a click fires on release) to the instance being found in Orthanc by QIDO-RS
(``GET /instances?SOPInstanceUID=`` for the UID the forwarder derives from the capture id),
polled every ``POLL_S``. Same-run baselines, from the same presses: ``press -> sealed`` (the
vault's ``store_capture`` returning: the station's own part, bench_workflow's figure) and
``sealed -> found in PACS`` (upload, filing, queueing, building the DICOM instance, STOW-RS,
Orthanc's indexing, one QIDO poll). The two add up to the figure.

Run as ``python -m tests.bench.bench_pacs inner SPEC.json`` it is the in-namespace part.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.bench import Figure

PRESSES = 15
WARMUP = 2
POLL_S = 0.01
ORTHANC_PORT = 8062
LAST_TABLE = ""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _wait(predicate, timeout: float, what: str, interval: float = 0.0005) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


# -- inside the namespace -------------------------------------------------------------------------

def _serve(data_dir: Path) -> tuple[subprocess.Popen, int]:
    """``capture-receiver serve`` as the demo starts it (no mDNS: the station is told the
    address, as a station with a fixed receiver address is)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "practice.cli", "serve", "--data-dir", str(data_dir),
         "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.terminate()
        raise RuntimeError("capture-receiver serve did not start")
    return proc, int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])


def _found(orthanc_url: str, sop_uid: str) -> bool:
    request = urllib.request.Request(f"{orthanc_url}/instances?SOPInstanceUID={sop_uid}",
                                     headers={"Accept": "application/dicom+json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = reply.read()
    return bool(body.strip()) and bool(json.loads(body))


def _station(root: Path, receiver_dir: Path, port: int):
    """A station enrolled at the receiver (its identity key registered there, the receiver's
    keys in its enrolment), assembled with the fake camera and mock pins."""
    from gpiozero.pins.mock import MockFactory

    from appliance.commands.demo import STILL_SIZE, SUBJECT_SCENE, WRISTBAND_SCENE
    from appliance.compose import assemble
    from appliance.config import load_config
    from appliance.enrolment import Enrolment, save_enrolment
    from appliance.paths import StatePaths
    from appliance.vault.keys import load_or_create_identity
    from capture.fake import FakeCamera, Scene
    from practice.keys import ReceiverKeys
    from practice.store import ReceiverStore
    from sync.protocol import station_id_for

    root.mkdir(parents=True, exist_ok=True)
    config = root / "station.toml"
    config.write_text(
        f'[station]\nname = "bench-room"\nstate_dir = "{root / "state"}"\n'
        f'[camera]\nbackend = "fake"\nstill_width = {STILL_SIZE[0]}\n'
        f'still_height = {STILL_SIZE[1]}\n[gpio]\npin_factory = "mock"\n'
        '[vault]\nreserve_mb = 16\n[web]\nenabled = false\n'
        '[sync]\nretry_min_seconds = 0.5\nretry_max_seconds = 5.0\n')
    cfg = load_config(config, environ={})
    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    identity = load_or_create_identity(paths)
    public_raw = identity.private_key.public_key().public_bytes_raw()
    station_id = station_id_for(public_raw)
    keys = ReceiverKeys.load(receiver_dir)
    store = ReceiverStore(receiver_dir)
    try:
        token, _ = store.create_token("bench-room", 600, require_approval=False)
        store.redeem_token(token, station_id, public_raw, "bench-room")
    finally:
        store.close()
    save_enrolment(paths, Enrolment(
        station_id=station_id, receiver_name=keys.name, receiver_pin=keys.pin,
        practice_public_key=base64.b64encode(keys.practice_public_raw).decode(),
        receipt_public_key=base64.b64encode(keys.receipt_public_raw).decode()))
    subject = Scene(noise=6.0, symbols=SUBJECT_SCENE.symbols)
    wristband = Scene(noise=6.0, symbols=WRISTBAND_SCENE.symbols)
    camera = FakeCamera(subject, still_size=STILL_SIZE)
    camera.prepare(subject, wristband)
    factory = MockFactory()
    assembly = assemble(cfg, camera=camera, pin_factory=factory, web=False,
                        receiver_addresses=[("127.0.0.1", port)])
    return assembly, camera, subject, wristband, factory


def _inner(spec_path: str) -> None:
    from appliance.workflow import SetTags
    from practice.forwarding.uids import instance_uid
    from tests.practice.forwarding.helpers import write_config

    spec = json.loads(Path(spec_path).read_text())
    root = Path(spec["root"])
    receiver_dir = root / "receiver"
    subprocess.run([sys.executable, "-m", "practice.cli", "init", "--data-dir",
                    str(receiver_dir), "--name", "bench-practice"], check=True,
                   capture_output=True, timeout=120)
    write_config(receiver_dir, {"name": "pacs", "kind": "dicomweb", "url": spec["url"]})
    proc, port = _serve(receiver_dir)
    sealed: list[tuple[float, str]] = []
    samples = []
    try:
        assembly, camera, subject, wristband, factory = _station(root / "station",
                                                                 receiver_dir, port)
        station = assembly.station
        store = station.store

        class TimedStore:
            def store_capture(self, jpeg, metadata, *, preview=None):
                result = store.store_capture(jpeg, metadata, preview=preview)
                sealed.append((time.perf_counter(), result.capture_id))
                return result

        station.store = TimedStore()
        with assembly:
            camera.set_scene(wristband)
            _wait(lambda: station.workflow.session is not None, 30, "the wristband")
            camera.set_scene(subject)
            station.dispatch(SetTags(consent="teaching"))
            pin = station.button.pin
            for n in range(PRESSES + WARMUP):
                before = len(sealed)
                pin.drive_low()
                time.sleep(0.07)
                released = time.perf_counter()
                pin.drive_high()
                _wait(lambda before=before: len(sealed) > before, 30, "the sealed capture")
                at_sealed, capture_id = sealed[-1]
                sop = instance_uid(capture_id, None)
                _wait(lambda sop=sop: _found(spec["url"], sop), 60, "the instance in the PACS",
                      POLL_S)
                found = time.perf_counter()
                if n >= WARMUP:
                    samples.append({"press_to_sealed": at_sealed - released,
                                    "sealed_to_pacs": found - at_sealed,
                                    "press_to_pacs": found - released})
                _wait(lambda: station.workflow.state.value == "session", 10, "the session")
        factory.reset()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps({"samples": samples}))


# -- outside ---------------------------------------------------------------------------------

def _measure(root: Path) -> list[dict]:
    from tests.practice.forwarding.orthanc import Namespace, Orthanc, make_env

    ns = Namespace(f"cs-p2p-{os.getpid()}")
    orthanc = Orthanc(ns, root / "orthanc", ORTHANC_PORT)
    try:
        orthanc.start()
        spec = root / "spec.json"
        spec.write_text(json.dumps({"root": str(root / "work"), "url": orthanc.url}))
        (root / "work").mkdir()
        out = ns.run(sys.executable, "-m", "tests.bench.bench_pacs", "inner", spec,
                     timeout=1800, env=make_env(), check=False)
        if out.returncode:
            raise RuntimeError("press to PACS failed:\n" + out.stderr.decode()[-3000:])
        return json.loads(out.stdout.decode().strip().splitlines()[-1])["samples"]
    finally:
        orthanc.stop()
        ns.delete()


def run() -> list[Figure]:
    global LAST_TABLE
    if os.geteuid() != 0 or not shutil.which("Orthanc") or not shutil.which("ip"):
        LAST_TABLE = ("press_to_pacs_s_p50: skipped (needs root for the network namespace, "
                      "and Debian's orthanc + orthanc-dicomweb: `sudo make bench` after "
                      "`make test` installed them)")
        return []
    root = Path(tempfile.mkdtemp(prefix="bench-pacs-"))
    try:
        samples = _measure(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    columns = {k: [s[k] for s in samples] for k in ("press_to_pacs", "press_to_sealed",
                                                     "sealed_to_pacs")}
    p50 = {k: statistics.median(v) for k, v in columns.items()}
    p95 = {k: _percentile(v, 0.95) for k, v in columns.items()}
    LAST_TABLE = "\n".join([
        "press to PACS (s)               p50      p95      n",
        *(f"{label:28s} {p50[k]:7.3f}  {p95[k]:7.3f}  {len(columns[k]):5d}"
          for label, k in (("press -> found in PACS", "press_to_pacs"),
                           ("press -> sealed (station)", "press_to_sealed"),
                           ("sealed -> found in PACS", "sealed_to_pacs"))),
        f"(QIDO polled every {POLL_S * 1000:.0f} ms; one press at a time; 12 MP fake stills)",
    ])
    return [
        Figure("press_to_pacs_s_p50", p50["press_to_pacs"], "s", "",
               f"press->sealed {p50['press_to_sealed']:.3f} s + sealed->PACS "
               f"{p50['sealed_to_pacs']:.3f} s (p50s, same presses)",
               f"{len(samples)} presses, demo set-up with a real Orthanc"),
        Figure("press_to_pacs_s_p95", p95["press_to_pacs"], "s", "", "", ""),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["inner"]:
        _inner(sys.argv[2])
