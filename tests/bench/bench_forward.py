"""Forwarding and ingest benchmarks (docs/scale.md).

``forward_ratio``: the forwarder (building each instance from the filed JPEG and its sidecar,
then one STOW-RS request per capture over a kept-alive connection) against curl POSTing the
same kind of instances, already built, as bare STOW-RS requests (one curl process, one
connection, one request per instance) to the same Orthanc, in the same run. Each round sends
``RATIO_ITEMS`` ~2 MB photos each way (different captures, so neither side meets a duplicate),
who goes first alternates; ratio = median over rounds of forwarder instances/s over curl
instances/s. Goal >= 0.8. Orthanc (Debian's, DICOMweb plugin) runs in a loopback-only network
namespace, and both clients run inside it; needs root, else the figures are skipped.

``sealed_to_pacs_s_p50``: the demo set-up without the camera: a sealed capture PUT by curl to
an in-process receiver (HTTPS, signature check, open, file) that queues it the way
``capture-receiver serve`` does, and the forwarder delivers it to Orthanc; from the PUT's start
to the forwarder recording the PACS's acceptance, one capture at a time. The station's own
part, press to sealed, is ``press_to_sealed_ms_p50`` (bench_workflow, same ``make bench``);
press to PACS is the sum.

``ingest_per_s``: sealed 4 MB captures accepted, opened, filed and receipted per second by one
``capture-receiver serve`` with 20 simulated stations uploading at once (20 curl processes,
each a station with its own key, ``INGEST_PER_STATION`` captures each); beside it the
figure for one station alone uploading the same number in total.

Run as ``python -m tests.bench.bench_forward inner SPEC.json`` it is the in-namespace client.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench import Figure

REPO = Path(__file__).resolve().parents[2]
RATIO_ITEMS = 24
ROUNDS = 7
LATENCY_SAMPLES = 15
STATIONS = 20
INGEST_PER_STATION = 5
LAST_TABLE = ""


def _photo_jpeg() -> bytes:
    """A ~2 MB JPEG of noise (a 12 MP photo from the Pi camera is 2-5 MB)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


# -- inside the namespace -------------------------------------------------------------------------

def _time_forwarder(data_dir: str) -> float:
    from practice.forwarding.forwarder import Forwarder
    from practice.forwarding.queue import ForwardQueue

    queue = ForwardQueue(Path(data_dir))
    forwarder = Forwarder(queue)
    started = time.perf_counter()
    forwarder.drain_all()
    elapsed = time.perf_counter() - started
    counts = queue.counts()
    forwarder.stop()
    queue.close()
    if counts["pacs"]["forwarded"] != RATIO_ITEMS:
        raise RuntimeError(f"forwarder delivered {counts}")
    return elapsed


def _time_curl(bodies: list[str], url: str, content_type: str) -> float:
    args = ["curl", "-sS"]
    for i, body in enumerate(bodies):
        if i:
            args += ["--next", "-sS"]
        args += ["-X", "POST", "-H", f"Content-Type: {content_type}", "-H", "Expect:",
                 "-H", "Accept: application/dicom+json", "--data-binary", f"@{body}",
                 "-o", "/dev/null", "-w", "%{http_code}\n", f"{url}/studies"]
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if out.returncode or out.stdout.split() != ["200"] * len(bodies):
        raise RuntimeError(f"curl STOW failed: {out.stderr[:200]} {out.stdout.split()[:4]}")
    return elapsed


def _latency(spec: dict) -> list[float]:
    """Sealed capture PUT -> filed -> queued -> forwarded, one at a time (seconds)."""
    from practice.forwarding.forwarder import Forwarder
    from practice.forwarding.queue import ForwardQueue
    from practice.keys import ReceiverKeys
    from practice.receiver_api import ReceiverApp
    from practice.store import ReceiverStore
    from tests.bench.bench_sync import _curl_upload
    from tests.sync.helpers import new_station, seal_capture
    from websecurity.https_server import HttpsServer

    data_dir = Path(spec["latency_dir"])
    keys = ReceiverKeys.create(data_dir, "practice")
    store = ReceiverStore(data_dir)
    station = new_station("bench")
    token, _ = store.create_token("bench", 600, require_approval=False)
    store.redeem_token(token, station.station_id, station.public_raw, "bench")
    queue = ForwardQueue(data_dir)
    forwarded: dict[str, float] = {}
    done = threading.Condition()

    class TimedForwarder(Forwarder):
        def _record(self, items, outcomes):  # type: ignore[no-untyped-def]
            super()._record(items, outcomes)
            with done:
                for item, outcome in zip(items, outcomes, strict=True):
                    if outcome.ok:
                        forwarded[item.item_id] = time.perf_counter()
                done.notify_all()

    app = ReceiverApp(data_dir, keys, store, forward_queue=queue)  # queues what it files
    server = HttpsServer(app, host="127.0.0.1", port=0, cert_path=keys.tls_cert_path,
                         key_path=keys.tls_key_path, threads=4)
    server.start()
    forwarder = TimedForwarder(queue)
    forwarder.start()
    image = Path(spec["jpeg"]).read_bytes()
    samples = []
    try:
        for n in range(LATENCY_SAMPLES):
            capture_id, sealed, _ = seal_capture(keys, station, image=image, sequence=n + 1)
            path = data_dir / f"{capture_id}.sealed"
            path.write_bytes(sealed)
            import hashlib

            item = {"id": capture_id, "path": str(path), "size": len(sealed),
                    "sha256": hashlib.sha256(sealed).hexdigest()}
            started = time.perf_counter()
            _curl_upload([item], server.port, keys.pin, station)
            with done:
                if not done.wait_for(lambda cid=capture_id: cid in forwarded, timeout=60):
                    raise RuntimeError("a capture did not reach the PACS within 60 s")
            samples.append(forwarded[capture_id] - started)
    finally:
        forwarder.stop()
        server.stop()
        queue.close()
        store.close()
    return samples


def _inner(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    results: dict[str, list] = {"forwarder": [], "curl": [], "latency": []}
    for n, (data_dir, bodies) in enumerate(zip(spec["forwarder_dirs"], spec["curl_bodies"],
                                               strict=True)):
        if n % 2:
            results["forwarder"].append(_time_forwarder(data_dir))
            results["curl"].append(_time_curl(bodies, spec["url"], spec["content_type"]))
        else:
            results["curl"].append(_time_curl(bodies, spec["url"], spec["content_type"]))
            results["forwarder"].append(_time_forwarder(data_dir))
    results["latency"] = _latency(spec)
    print(json.dumps(results))


# -- outside: preparing, running Orthanc, ingest ----------------------------------------------

def _prepare(root: Path, url: str, jpeg: bytes) -> dict:
    from practice.forwarding import dicom
    from practice.forwarding.delivery import multipart
    from practice.forwarding.filed import load_filed
    from practice.forwarding.queue import ForwardQueue
    from tests.practice.forwarding.helpers import file_photo, write_config

    spec: dict = {"url": url, "forwarder_dirs": [], "curl_bodies": []}
    for n in range(ROUNDS):
        data = root / f"fwd{n}"
        data.mkdir(parents=True)
        write_config(data, {"name": "pacs", "kind": "dicomweb", "url": url})
        queue = ForwardQueue(data)
        for i in range(RATIO_ITEMS):
            capture_id, jpg = file_photo(data, jpeg, patient_id=f"B-{n}", sequence=i + 1)
            queue.enqueue("capture", capture_id, jpg.relative_to(data))
        queue.close()
        spec["forwarder_dirs"].append(str(data))
        other = root / f"curl{n}"
        other.mkdir()
        bodies = []
        for i in range(RATIO_ITEMS):
            _, jpg = file_photo(other, jpeg, patient_id=f"C-{n}", sequence=i + 1)
            part10 = dicom.to_bytes(dicom.photo_instance(load_filed(other, jpg), dicom.DicomSite()))
            chunks, content_type = multipart([[part10]], "bench-boundary-0123456789")
            body = other / f"{i}.multipart"
            body.write_bytes(b"".join(chunks))
            bodies.append(str(body))
        spec["curl_bodies"].append(bodies)
        spec["content_type"] = content_type
    latency = root / "latency"
    latency.mkdir()
    write_config(latency, {"name": "pacs", "kind": "dicomweb", "url": url})
    spec["latency_dir"] = str(latency)
    (root / "photo.jpg").write_bytes(jpeg)
    spec["jpeg"] = str(root / "photo.jpg")
    return spec


def _forward_figures(root: Path) -> tuple[list[Figure], str]:
    from tests.practice.forwarding.orthanc import Namespace, Orthanc, make_env

    ns = Namespace(f"cs-bench-{os.getpid()}")
    orthanc = Orthanc(ns, root / "orthanc", 8042)
    try:
        orthanc.start()
        jpeg = _photo_jpeg()
        spec = _prepare(root / "work", orthanc.url, jpeg)
        spec_path = root / "spec.json"
        spec_path.write_text(json.dumps(spec))
        out = ns.run(sys.executable, "-m", "tests.bench.bench_forward", "inner", spec_path,
                     timeout=3600, env=make_env())
        results = json.loads(out.stdout.decode().strip().splitlines()[-1])
    finally:
        orthanc.stop()
        ns.delete()
    ratio = statistics.median(c / f for f, c in zip(results["forwarder"], results["curl"],
                                                   strict=True))
    fwd_rate = RATIO_ITEMS / statistics.median(results["forwarder"])
    curl_rate = RATIO_ITEMS / statistics.median(results["curl"])
    latency = sorted(results["latency"])
    mb = len(jpeg) / 1e6
    figures = [
        Figure("forward_ratio", ratio, "", ">= 0.8",
               f"curl STOW-RS {curl_rate:.1f} inst/s vs forwarder {fwd_rate:.1f} inst/s "
               "(medians)", f"{RATIO_ITEMS} x {mb:.1f} MB photos, {ROUNDS} paired rounds"),
        Figure("sealed_to_pacs_s_p50", statistics.median(latency), "s", "",
               f"p95 {latency[int(0.95 * (len(latency) - 1))]:.3f} s",
               f"{LATENCY_SAMPLES} captures, one at a time"),
    ]
    detail = (f"forward: forwarder {[round(t, 2) for t in results['forwarder']]} s, curl "
              f"{[round(t, 2) for t in results['curl']]} s per {RATIO_ITEMS} instances; "
              f"sealed->PACS {[round(t, 3) for t in latency]} s")
    return figures, detail


def _enrol(store, count: int) -> list:
    from tests.sync.helpers import new_station

    stations = []
    for n in range(count):
        station = new_station(f"bench-{n}")
        token, _ = store.create_token(f"room-{n}", 600, require_approval=False)
        store.redeem_token(token, station.station_id, station.public_raw, f"room-{n}")
        stations.append(station)
    return stations


def _ingest(root: Path) -> tuple[list[Figure], str]:
    from practice.keys import ReceiverKeys
    from practice.store import ReceiverStore
    from tests.bench.bench_sync import _curl_upload, _seal_many, _start_receiver, _stop

    data_dir = root / "receiver"
    keys = ReceiverKeys.create(data_dir, "practice")
    store = ReceiverStore(data_dir)
    stations = _enrol(store, STATIONS + 1)
    store.close()
    total = STATIONS * INGEST_PER_STATION
    solo_items = _seal_many(keys, stations[-1], total, root / "solo")
    many = [_seal_many(keys, s, INGEST_PER_STATION, root / f"s{n}")
            for n, s in enumerate(stations[:STATIONS])]
    proc, port = _start_receiver(data_dir)
    try:
        solo = _curl_upload(solo_items, port, keys.pin, stations[-1])
        errors: list[BaseException] = []

        def upload(items, station, source) -> None:
            try:
                _curl_upload(items, port, keys.pin, station, source)
            except BaseException as exc:  # noqa: BLE001 - reported after the join
                errors.append(exc)

        threads = [threading.Thread(target=upload, args=(items, station, f"127.0.0.{n + 2}"))
                   for n, (items, station) in enumerate(zip(many, stations, strict=False))]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"concurrent upload failed: {errors[0]}")
    finally:
        _stop(proc)
    figures = [Figure("ingest_per_s", total / concurrent, "captures/s", "",
                      f"one station alone: {total / solo:.1f} captures/s",
                      f"{STATIONS} stations x {INGEST_PER_STATION} sealed 4 MB captures")]
    return figures, f"ingest: {total} captures, 20 stations {concurrent:.2f} s, one {solo:.2f} s"


def run() -> list[Figure]:
    global LAST_TABLE
    root = Path(tempfile.mkdtemp(prefix="bench-forward-"))
    figures: list[Figure] = []
    details = []
    try:
        ingest, detail = _ingest(root / "ingest")
        figures += ingest
        details.append(detail)
        if os.geteuid() == 0 and shutil.which("Orthanc") and shutil.which("curl"):
            forward, detail = _forward_figures(root / "forward")
            figures += forward
            details.append(detail)
        else:
            details.append("forward_ratio, sealed_to_pacs_s_p50: skipped (need root, Orthanc "
                           "and curl: `sudo make bench` after `make test` installed them)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    LAST_TABLE = "\n".join(details)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["inner"]:
        _inner(sys.argv[2])
