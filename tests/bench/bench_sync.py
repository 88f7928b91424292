"""Delivery benchmarks: station upload throughput against curl, and memory while draining.

``upload_ratio``: one ``capture-receiver serve`` process; the station's sync worker (its own
process) delivers N sealed 4 MB captures, and curl (one process, one kept-alive pinned TLS
connection, the same signature headers computed for it) PUTs N other captures of the same
size to the same receiver. Each round runs both back to back (who goes first alternates, so
neither always gets a warm disk); ratio = the median over rounds of station MB/s / curl MB/s
in that round; goal >= 0.8.

``backlog_rss_mb``: peak RSS of the station's worker process while draining 500 queued 4 MB
captures, with the same figure for 50 as the baseline; goal <= 150 MB and not above the
50-capture figure (+2 MB measurement slack): memory must not grow with the backlog.

Run as ``python -m tests.bench.bench_sync drain ...`` it is that station process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import Figure

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CAPTURE_BYTES = 4 * 1024 * 1024
RATIO_ITEMS = 16
ROUNDS = 7
LAST_TABLE = ""


def _photo(size: int) -> bytes:
    """A real JPEG of about ``size`` bytes (sensor-like noise compresses like a 12 MP photo;
    the practice refuses anything that does not decode as a JPEG)."""
    from tests.sync.helpers import noise_jpeg

    side = int((size / 1.17) ** 0.5)  # about 1.17 bytes a pixel at quality 95
    return noise_jpeg((side * 4 // 3, side * 3 // 4), quality=95)


def _seal_many(keys, station, count: int, directory: Path) -> list[dict]:
    """``count`` sealed captures of ~4 MB (a real noise JPEG) written to disk."""
    from tests.sync.helpers import seal_capture

    directory.mkdir(parents=True, exist_ok=True)
    image = _photo(CAPTURE_BYTES)
    items = []
    for _ in range(count):
        capture_id, sealed, _ = seal_capture(keys, station, image=image)
        path = directory / f"{capture_id}.sealed"
        path.write_bytes(sealed)
        items.append({"id": capture_id, "path": str(path), "size": len(sealed),
                      "sha256": hashlib.sha256(sealed).hexdigest()})
    return items


def _start_receiver(data_dir: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [BIN / "capture-receiver", "serve", "--data-dir", data_dir, "--host", "127.0.0.1",
         "--port", "0", "--no-mdns"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    banner = proc.stdout.readline()
    if " on " not in banner:
        proc.kill()
        raise RuntimeError("receiver did not start")
    return proc, int(banner.split(" on ")[1].split()[0].rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _station_drain(manifest: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_sync", "drain",
                          str(manifest)], capture_output=True, text=True, env=env,
                         timeout=3600, cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _curl_upload(items: list[dict], port: int, pin: str, station,
                 source: str | None = None) -> float:
    """Seconds for one curl process to PUT every item (signed like the station does);
    ``source`` is the loopback address it connects from (each simulated station its own,
    as on a LAN: the server bounds connections per address)."""
    from sync.protocol import item_path
    from sync.signing import RequestSigner

    pin_b64 = base64.b64encode(bytes.fromhex(pin)).decode()
    signer = RequestSigner(station.key, station.station_id)
    per_request = ["--insecure", "--pinnedpubkey", f"sha256//{pin_b64}", "-sS",
                   *(["--interface", source] if source else [])]
    args = ["curl", *per_request]
    for i, item in enumerate(items):
        path = item_path("capture", item["id"])
        headers = signer.headers("PUT", path, sha256_hex=item["sha256"], length=item["size"])
        if i:
            args += ["--next", *per_request]
        args += ["-T", item["path"], "-o", "/dev/null", "-w", "%{http_code}\n",
                 "-H", "Expect:", "-H", "Content-Type: application/octet-stream"]
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            args += ["-H", f"{name}: {headers[name]}"]
        args.append(f"https://127.0.0.1:{port}{path}")
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    codes = out.stdout.split()
    if out.returncode or codes != ["201"] * len(items):
        raise RuntimeError(f"curl uploads failed: {out.stderr.strip()[:200]} {codes[:5]}")
    return elapsed


def _setup(root: Path):
    from practice.keys import ReceiverKeys
    from practice.store import ReceiverStore
    from tests.sync.helpers import new_station

    data_dir = root / "receiver"
    keys = ReceiverKeys.create(data_dir, "practice")
    station = new_station("bench")
    store = ReceiverStore(data_dir)
    token, _ = store.create_token("bench", 600, require_approval=False)
    store.redeem_token(token, station.station_id, station.public_raw, "bench")
    store.close()
    return data_dir, keys, station


def _manifest(root: Path, name: str, keys, station, items: list[dict], port: int) -> Path:
    from cryptography.hazmat.primitives import serialization

    key_pem = station.key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    path = root / f"{name}.json"
    path.write_text(json.dumps({
        "items": items, "port": port, "pin": keys.pin, "key": key_pem,
        "station_id": station.station_id,
        "receipt_key": base64.b64encode(keys.receipt_public_raw).decode(),
    }))
    return path


def _upload_ratio(root: Path) -> tuple[Figure, str]:
    data_dir, keys, station = _setup(root)
    proc, port = _start_receiver(data_dir)
    try:
        station_times, curl_times = [], []
        for round_no in range(ROUNDS):
            mine = _seal_many(keys, station, RATIO_ITEMS, root / f"s{round_no}")
            theirs = _seal_many(keys, station, RATIO_ITEMS, root / f"c{round_no}")
            manifest = _manifest(root, f"s{round_no}", keys, station, mine, port)
            if round_no % 2:  # alternate who goes first, so neither always gets a warm disk
                station_times.append(_station_drain(manifest)["seconds"])
                curl_times.append(_curl_upload(theirs, port, keys.pin, station))
            else:
                curl_times.append(_curl_upload(theirs, port, keys.pin, station))
                station_times.append(_station_drain(manifest)["seconds"])
            shutil.rmtree(root / f"s{round_no}")
            shutil.rmtree(root / f"c{round_no}")
    finally:
        _stop(proc)
    total_mb = RATIO_ITEMS * CAPTURE_BYTES / 1e6
    # Each round pairs the two back to back; the median of the per-round ratios is kept. (The
    # best time of each side was used before, but one lucky round on this shared machine
    # (0.55 s against a usual 0.95 s) then decided the figure on its own.)
    ratio = statistics.median(c / s for s, c in zip(station_times, curl_times, strict=True))
    station_rate = total_mb / statistics.median(station_times)
    curl_rate = total_mb / statistics.median(curl_times)
    fig = Figure("upload_ratio", ratio, "", ">= 0.8",
                 f"curl {curl_rate:.1f} MB/s vs station {station_rate:.1f} MB/s (medians)",
                 f"{RATIO_ITEMS} x 4 MB, median of {ROUNDS} paired rounds")
    detail = (f"upload: station {[round(t, 2) for t in station_times]} s, "
              f"curl {[round(t, 2) for t in curl_times]} s for {total_mb:.0f} MB each")
    return fig, detail


def _backlog_rss(root: Path, count: int) -> tuple[float, float]:
    data_dir, keys, station = _setup(root / f"b{count}")
    items = _seal_many(keys, station, count, root / f"b{count}" / "outbox")
    proc, port = _start_receiver(data_dir)
    try:
        result = _station_drain(_manifest(root, f"b{count}", keys, station, items, port))
    finally:
        _stop(proc)
    if result["delivered"] != count:
        raise RuntimeError(f"only {result['delivered']} of {count} delivered")
    shutil.rmtree(root / f"b{count}")
    return result["peak_rss_mb"], result["seconds"]


def run() -> list[Figure]:
    global LAST_TABLE
    if shutil.which("curl") is None:
        raise RuntimeError("curl is needed for upload_ratio (scripts/bootstrap.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        ratio, detail = _upload_ratio(root)
        rss_50, t50 = _backlog_rss(root, 50)
        rss_500, t500 = _backlog_rss(root, 500)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rss = Figure("backlog_rss_mb", rss_500, "MB", "<= 150", f"50 captures: {rss_50:.1f} MB",
                 "500 x 4 MB drained")
    if rss_500 > rss_50 + 2:
        rss.note += f"; GROWS with backlog (+{rss_500 - rss_50:.1f} MB over 50)"
    LAST_TABLE = "\n".join([
        "sync delivery",
        f"  {detail}",
        f"  backlog drain: 50 x 4 MB in {t50:.1f} s (peak RSS {rss_50:.1f} MB), "
        f"500 x 4 MB in {t500:.1f} s (peak RSS {rss_500:.1f} MB)",
    ])
    return [ratio, rss]


# -- the station process ------------------------------------------------------------------------


def _peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not ``getrusage``'s ru_maxrss: Linux carries that
    across fork and exec, so a drain started by a large parent would report the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _drain_main(manifest_path: str) -> int:
    """Deliver every item in the manifest with the real sync worker; print timing and RSS."""
    from cryptography.hazmat.primitives import serialization

    from sync.outbox import OutboxItem
    from sync.uploader import DeliveryTarget, StaticLocator, SyncWorker
    from tests.sync.helpers import FileOutbox

    spec = json.loads(Path(manifest_path).read_text())
    key = serialization.load_pem_private_key(spec["key"].encode(), password=None)
    outbox = FileOutbox(Path(spec["items"][0]["path"]).parent)
    with outbox._lock:
        from tests.sync.helpers import _Row

        for entry in spec["items"]:
            item = OutboxItem(entry["id"], "capture", Path(entry["path"]), entry["size"],
                              entry["sha256"])
            outbox._rows[entry["id"]] = _Row(item)
    target = DeliveryTarget(spec["station_id"], "practice", spec["pin"],
                            base64.b64decode(spec["receipt_key"]))
    worker = SyncWorker(outbox, key, target, StaticLocator([("127.0.0.1", spec["port"])]),
                        audit=lambda e, d: None, timeout=60)
    started = time.perf_counter()
    delivered = 0
    while outbox.pending_count() and time.perf_counter() - started < 3000:
        outcome = worker.run_once()
        if outcome == "delivered":
            delivered += 1
        elif outcome in ("unavailable", "paused", "retry", "idle"):
            time.sleep(0.1)
            outbox.make_due()
            worker.paused_until = 0
    seconds = time.perf_counter() - started
    worker.stop()
    print(json.dumps({"delivered": delivered, "seconds": seconds,
                      "peak_rss_mb": _peak_rss_kb() / 1024}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "drain":
        sys.exit(_drain_main(sys.argv[2]))
    for figure in run():
        print(figure)
    print(LAST_TABLE)
