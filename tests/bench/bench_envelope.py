"""Envelope v2 benchmarks: what sealing costs over the bare AEAD, and what opening holds in memory.

* ``envelope_seal_throughput_ratio``: :func:`sync.envelope.seal_to` of a 5 MB item (two
  HPKE recipients, metadata check, 64 KiB chunks each sealed with the one-shot
  ``ChaCha20Poly1305.encrypt``, SHA-256 over the ciphertext, the Ed25519 signature; the
  writer drops the bytes) over one bare one-shot ``ChaCha20Poly1305.encrypt`` of the same
  bytes, one core, same run. Goal >= 0.8.
* ``envelope_open_rss_mb``: peak RSS of a separate process that opens the largest item the
  protocol allows (``MAX_ITEM_BYTES``; sealed to a file in $BENCH_TMP or /tmp, streamed, deleted
  after) with the practice key, checking the signature and writing the plaintext to
  /dev/null. Goal <= 40. ``envelope_open_rss_mb_5mb``: the same for a 5 MB item. The
  baseline is the same child that imports everything and opens nothing.

The table beside them shows where the time goes (the chunked AEAD alone, SHA-256 and BLAKE2b of
the same bytes), the chunk size (64 KiB against 1 MiB), and the alternative the design asked
to weigh: age through ``pyrage`` (two X25519 recipients), with the same SHA-256 + Ed25519
signature added, and its opening RSS. Timings are medians of interleaved repetitions.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync import envelope as env
from sync.protocol import MAX_ITEM_BYTES
from tests.bench import Figure

REPEATS = 15
FIVE_MB = 5_000_000
ITEM = "0189abcd-0000-7000-8000-000000000000"
LAST_TABLE = ""

_CHILD = r"""
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sync import envelope as env
kind, path, key_path, station_hex = sys.argv[1:5]
if kind == "v2":
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
    station = Ed25519PublicKey.from_public_bytes(bytes.fromhex(station_hex))
    with open("/dev/null", "wb") as sink:
        env.open_envelope(path, key, station, write=lambda part, data: sink.write(data))
elif kind == "age":
    import pyrage
    identity = pyrage.x25519.Identity.from_str(open(key_path).read().strip())
    with open(path, "rb") as source, open("/dev/null", "wb") as sink:
        pyrage.decrypt_io(source, sink, [identity])
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(jobs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median ms of each job, the jobs interleaved so a noisy neighbour hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    for job in jobs.values():
        job()  # warm-up
    for _ in range(REPEATS):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            samples[name].append(time.perf_counter() - started)
    return {name: _median_ms(values) for name, values in samples.items()}


def _metadata(station_id: str) -> dict:
    return {"station_id": station_id, "capture_id": ITEM, "patient_id": "0000000000000000001",
            "issuer": "BENCH", "captured_at": "2026-01-02T03:04:05.678+00:00",
            "body_site": "heel", "laterality": "left", "consent": "record-only"}


def _child_rss_mb(kind: str, path: Path, key_path: Path, station_hex: str) -> float:
    root = Path(__file__).resolve().parents[2]
    env_vars = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), str(key_path),
                           station_hex], capture_output=True, text=True, check=True,
                          env=env_vars)
    return int(done.stdout.split()[-1]) / 1024  # VmHWM is in KiB


def _seal_file(path: Path, image: list[memoryview], station: Ed25519PrivateKey,
               recipients: list) -> int:
    with path.open("wb") as out:
        return env.seal_to(out.write, "capture", _metadata(env.station_of(station.public_key())),
                           {"image": image, "preview": b""}, recipients=recipients,
                           station_key=station, item_id=ITEM)


def _largest_image(station: Ed25519PrivateKey, recipients: list) -> list[memoryview]:
    """Image pieces (one reused 1 MiB block) for a sealed file of exactly MAX_ITEM_BYTES."""
    block = memoryview(bytes(range(256)) * 4096)
    probe = env.read_header(env.seal("capture", _metadata(env.station_of(station.public_key())),
                                     {"image": b"", "preview": b""}, recipients=recipients,
                                     station_key=station, item_id=ITEM))
    fixed = probe.file_size - env.TAG_LEN  # header, metadata, signature
    length = MAX_ITEM_BYTES - fixed - 16  # the image length's digits grow the header
    length -= env.TAG_LEN * env.chunk_count(length + probe.plaintext_length)
    pieces = [block] * (length // len(block))
    return [*pieces, block[: length - len(block) * len(pieces)]]


def run() -> list[Figure]:
    global LAST_TABLE
    data = os.urandom(FIVE_MB)
    practice, review = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    station = Ed25519PrivateKey.generate()
    recipients = [practice.public_key(), review.public_key()]
    meta = _metadata(env.station_of(station.public_key()))
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    header = b"h" * 400
    view = memoryview(data)

    def chunked_aead() -> None:
        for at in range(0, len(data), env.CHUNK_SIZE):
            aead.encrypt(at.to_bytes(12, "big"), view[at:at + env.CHUNK_SIZE], header)

    def seal_v2() -> None:
        env.seal_to(lambda _b: None, "capture", meta, {"image": data, "preview": b""},
                    recipients=recipients, station_key=station, item_id=ITEM)

    def seal_v2_1mib() -> None:
        saved = env.CHUNK_SIZE
        env.CHUNK_SIZE = 1 << 20  # bench only: the format fixes 64 KiB
        try:
            seal_v2()
        finally:
            env.CHUNK_SIZE = saved

    sealed = env.seal("capture", meta, {"image": data, "preview": b""}, recipients=recipients,
                      station_key=station, item_id=ITEM)
    jobs: dict[str, Callable[[], object]] = {
        "bare one-shot ChaCha20-Poly1305": lambda: aead.encrypt(bytes(12), data, header),
        "64 KiB chunks, AEAD only": chunked_aead,
        "SHA-256 of the bytes": lambda: hashlib.sha256(data).digest(),
        "BLAKE2b of the bytes": lambda: hashlib.blake2b(data).digest(),
        "v2 seal_to (64 KiB chunks)": seal_v2,
        "v2 seal_to with 1 MiB chunks": seal_v2_1mib,
        "v2 open_envelope to memory": lambda: env.open_envelope(sealed, practice,
                                                                station.public_key()),
    }
    age_note = ""
    try:
        import pyrage  # the alternative weighed; optional
    except ImportError:
        pyrage = None
        age_note = "pyrage is not installed: age not measured"
    if pyrage is not None:
        ids = [pyrage.x25519.Identity.generate() for _ in range(2)]
        age_recipients = [i.to_public() for i in ids]
        age_file = pyrage.encrypt(data, age_recipients)

        def age_signed() -> None:
            out = pyrage.encrypt(data, age_recipients)
            station.sign(hashlib.sha256(out).digest())

        jobs["age encrypt (pyrage, 2 recipients)"] = lambda: pyrage.encrypt(data,
                                                                            age_recipients)
        jobs["age encrypt + SHA-256 + Ed25519"] = age_signed
        jobs["age decrypt to memory"] = lambda: pyrage.decrypt(age_file, [ids[0]])
    ms = _timed(jobs)

    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = Path(tmp)
        key_path = folder / "practice.key"
        key_path.write_bytes(practice.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        station_hex = station.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        small, large = folder / "five.sealed", folder / "largest.sealed"
        _seal_file(small, [view], station, recipients)
        large_size = _seal_file(large, _largest_image(station, recipients), station, recipients)
        rss["nothing opened (baseline)"] = _child_rss_mb("none", small, key_path, station_hex)
        rss["v2, 5 MB item"] = _child_rss_mb("v2", small, key_path, station_hex)
        rss[f"v2, largest item ({large_size / 2**20:.1f} MiB)"] = _child_rss_mb(
            "v2", large, key_path, station_hex)
        large.unlink()
        if pyrage is not None:
            age_key = folder / "age.key"
            age_key.write_text(str(ids[0]))
            age_large = folder / "largest.age"
            with age_large.open("wb") as out, Path("/dev/zero").open("rb") as zeros:
                class Limited:
                    left = MAX_ITEM_BYTES

                    def read(self, n: int = -1) -> bytes:
                        chunk = zeros.read(min(self.left, 1 << 20 if n < 0 else n))
                        self.left -= len(chunk)
                        return chunk

                    def readinto(self, buffer: memoryview) -> int:
                        chunk = self.read(len(buffer))
                        buffer[: len(chunk)] = chunk
                        return len(chunk)

                pyrage.encrypt_io(Limited(), out, age_recipients)
            rss["age (pyrage.decrypt_io), 64 MiB"] = _child_rss_mb("age", age_large, age_key,
                                                                   "")
            age_large.unlink()

    bare = ms["bare one-shot ChaCha20-Poly1305"]
    mb = FIVE_MB / 1e6
    figures = [
        Figure("envelope_seal_throughput_ratio", bare / ms["v2 seal_to (64 KiB chunks)"],
               "x", ">= 0.8", f"one-shot ChaCha20-Poly1305 {mb / bare * 1000:.0f} MB/s",
               f"v2 seal {mb / ms['v2 seal_to (64 KiB chunks)'] * 1000:.0f} MB/s"),
        Figure("envelope_open_rss_mb",
               next(v for k, v in rss.items() if k.startswith("v2, largest")), "MB", "<= 40",
               f"child opening nothing {rss['nothing opened (baseline)']:.1f} MB"),
        Figure("envelope_open_rss_mb_5mb", rss["v2, 5 MB item"], "MB", "<= 40",
               f"child opening nothing {rss['nothing opened (baseline)']:.1f} MB"),
        Figure("envelope_seal_ratio_without_hash",
               bare / (ms["v2 seal_to (64 KiB chunks)"] - ms["SHA-256 of the bytes"]), "x", "",
               note="what signing only the chunk tags would give (seal minus one SHA-256)"),
    ]
    if pyrage is not None:
        figures.append(Figure("age_signed_seal_throughput_ratio",
                              bare / ms["age encrypt + SHA-256 + Ed25519"], "x", "",
                              note="the alternative: age via pyrage plus the same signature"))
    lines = [f"envelope v2 (medians of {REPEATS}, {mb:.0f} MB item, one core, same run)"]
    lines += [f"  {name:<38} {value:7.2f} ms  ({mb / value * 1000:5.0f} MB/s, "
              f"{bare / value:4.2f}x of bare)" for name, value in ms.items()]
    lines.append("peak RSS of a child process opening (writer to /dev/null)")
    lines += [f"  {name:<38} {value:7.1f} MB" for name, value in rss.items()]
    if age_note:
        lines.append(f"  {age_note}")
    LAST_TABLE = "\n".join(lines)
    return figures
