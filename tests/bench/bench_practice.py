"""Practice server benchmark: what receiving and opening one item costs in memory.

``open_rss_mb``: peak RSS (VmHWM) of a real ``capture-receiver serve`` process that receives
over pinned TLS, verifies, opens and files the largest item the protocol allows (a capture of
exactly ``MAX_ITEM_BYTES``, signature included), uploaded streaming by the station's client.
Goal <= 40 MB: the receiver streams the body to disk, checks the station's signature, then
decrypts chunk by chunk into the filed JPEG, so memory must not depend on the item's size.
``open_rss_mb_5mb`` is the same for a 5 MB capture. Each runs in a fresh server; the
baseline is that server's peak RSS once it is listening, before any request (its imports:
the CLI, zeroconf, cryptography, the HTTP signature library). ``open_rss_growth_mb`` is the
largest item's peak over that baseline: what receiving and opening itself costs.
``content_check_ms``: what checking that a 4 MB photo really is a JPEG costs (see
docs/patient-file.md, "What is filed"), against the SHA-256 of the same bytes.

Sealed files are written to $BENCH_TMP (or the system temp dir) and deleted afterwards.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from tests.bench import Figure
from tests.bench.bench_sync import _setup, _start_receiver, _stop

FIVE_MB = 5_000_000
BLOCK = 1024 * 1024
LAST_TABLE = ""


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def _seal_file(path: Path, keys, station, image_len: int) -> tuple[str, int]:
    """Seal a capture with an ``image_len``-byte image straight to ``path``; (capture id, file
    size). The image is a real JPEG (the practice refuses anything else) followed, after its
    end marker, by pieces of one random block (never joined) up to the length: decoders stop
    at the end marker, as with the secondary images some cameras append."""
    from sync.envelope import seal_to
    from tests.sync.helpers import METADATA, PREVIEW, noise_jpeg, uuid7

    block = os.urandom(BLOCK)
    head = noise_jpeg((640, 480), quality=90)
    if image_len < len(head):
        head = b""
    rest = image_len - len(head)
    pieces = [head, *[block] * (rest // BLOCK), block[: rest % BLOCK]]
    capture_id = uuid7()
    metadata = {**METADATA, "station_id": station.station_id, "capture_id": capture_id}
    with open(path, "wb") as out:
        size = seal_to(out.write, "capture", metadata, {"image": pieces, "preview": PREVIEW},
                       recipients=[keys.practice_public], station_key=station.key,
                       item_id=capture_id)
    return capture_id, size


def _largest_image(keys, station, probe: Path) -> int:
    """The longest image whose sealed capture still fits ``MAX_ITEM_BYTES`` (the file's size
    is worked out from an empty-image probe by the layout in docs/envelope.md)."""
    from sync.envelope import TAG_LEN, chunk_count, read_header
    from sync.protocol import MAX_ITEM_BYTES

    _, empty = _seal_file(probe, keys, station, 0)
    header = read_header(probe)
    other = header.plaintext_length  # metadata and preview
    fixed = empty - other - TAG_LEN * header.chunks  # magic, header with "len":0, signature

    def size(image: int) -> int:
        return fixed + len(str(image)) - 1 + other + image + TAG_LEN * chunk_count(other + image)

    image = MAX_ITEM_BYTES - fixed - other
    while size(image) > MAX_ITEM_BYTES:
        image -= 1
    return image


def _receive_one(root: Path, image_len: int) -> dict:
    """A fresh server receives one capture; its idle and peak RSS, the item's size."""
    from sync.client import ReceiverClient
    from sync.protocol import item_path

    data_dir, keys, station = _setup(root)
    if image_len < 0:
        image_len = _largest_image(keys, station, root / "probe.sealed")
    sealed = root / "item.sealed"
    capture_id, size = _seal_file(sealed, keys, station, image_len)
    digest = hashlib.sha256()
    with open(sealed, "rb") as source:
        for block in iter(lambda: source.read(BLOCK), b""):
            digest.update(block)
    proc, port = _start_receiver(data_dir)
    try:
        idle = _vm_hwm_mb(proc.pid)
        with ReceiverClient("127.0.0.1", port, keys.pin, station.key, station.station_id,
                            timeout=300) as client, open(sealed, "rb") as stream:
            response = client.request("PUT", item_path("capture", capture_id), stream=stream,
                                      sha256_hex=digest.hexdigest(), length=size)
        peak = _vm_hwm_mb(proc.pid)
    finally:
        _stop(proc)
    if response.status != 201:
        raise RuntimeError(f"upload refused: {response.status} {response.body[:200]!r}")
    [jpg] = [p for p in (data_dir / "inbox").rglob("*.jpg") if ".thumb." not in p.name]
    if jpg.stat().st_size != image_len:
        raise RuntimeError("the filed JPEG has the wrong size")
    return {"idle": idle, "peak": peak, "size": size}


def run() -> list[Figure]:
    global LAST_TABLE
    from sync.protocol import MAX_ITEM_BYTES

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        small = _receive_one(Path(tmp) / "small", FIVE_MB)
        large = _receive_one(Path(tmp) / "large", -1)
    if not MAX_ITEM_BYTES - 16 <= large["size"] <= MAX_ITEM_BYTES:  # a chunk tag may not fit
        raise RuntimeError(f"largest item is {large['size']} bytes, not {MAX_ITEM_BYTES}")
    figures = [
        Figure("open_rss_mb", large["peak"], "MB", "<= 40",
               f"idle server {large['idle']:.1f} MB",
               f"capture-receiver serve receiving a {large['size']}-byte item"),
        Figure("open_rss_mb_5mb", small["peak"], "MB", "<= 40",
               f"idle server {small['idle']:.1f} MB",
               f"capture-receiver serve receiving a {small['size']}-byte item"),
        Figure("open_rss_growth_mb", large["peak"] - large["idle"], "MB", "",
               f"5 MB item: {small['peak'] - small['idle']:.1f} MB",
               "largest item's peak over the idle server"),
    ]
    figures += _content_check()
    rows = [("item", "sealed bytes", "idle RSS MB", "peak RSS MB", "growth MB")]
    for name, result in (("5 MB capture", small), ("largest (MAX_ITEM_BYTES)", large)):
        rows.append((name, str(result["size"]), f"{result['idle']:.1f}",
                     f"{result['peak']:.1f}", f"{result['peak'] - result['idle']:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    LAST_TABLE = "\n".join(["practice server: receive + verify + open + file (VmHWM)"] + [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows])
    return figures


def _content_check() -> list[Figure]:
    """``content_check_ms``: the practice's check of a 4 MB photo (header, pixel limit, a
    decode to the end at 1/8 scale), p50; baselines, same bytes, same run: the SHA-256 the
    receiver computes anyway, and a full-scale decode."""
    from PIL import Image

    from practice.payload import check_jpeg
    from tests.bench.bench_patientfile import _p50 as p50
    from tests.bench.bench_sync import CAPTURE_BYTES, _photo

    data = _photo(CAPTURE_BYTES)

    def full_decode() -> None:
        with Image.open(path) as image:
            image.load()

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(data)
        check = p50(lambda: check_jpeg(path, "image"))
        digest = p50(lambda: hashlib.sha256(path.read_bytes()).hexdigest())
        full = p50(full_decode)
    return [Figure("content_check_ms", check, "ms", "",
                   f"SHA-256 of the same bytes {digest:.1f} ms, full decode {full:.1f} ms",
                   f"a {len(data) / 1e6:.1f} MB photo")]


if __name__ == "__main__":
    for figure in run():
        print(figure)
    print(LAST_TABLE)
