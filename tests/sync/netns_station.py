"""Run inside the station's network namespace by test_netns.py: browse, enrol, deliver.

Prints one JSON line with what happened, so the test (in the root namespace) can assert it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from sync.enrol import enrol
from sync.provisioning import read_toml
from sync.uploader import DeliveryTarget, MdnsLocator, SyncWorker
from tests.sync.helpers import FileOutbox, new_station, seal_capture_to


def main(provision_file: str, interface: str) -> int:
    provisioning = read_toml(Path(provision_file))
    station = new_station("exam-ns")
    events: list = []
    locator = MdnsLocator(provisioning.receiver_name, provisioning.receiver_pin,
                          interfaces=[interface])
    try:
        locator.browser.wait_for(name=provisioning.receiver_name,
                                 pin=provisioning.receiver_pin, timeout=20)
        addresses = locator.addresses()
        result = enrol(station.key, provisioning, addresses, station_name="exam-ns",
                       audit=lambda e, d: events.append(e))
        target = DeliveryTarget(result.station_id, result.receiver_name, result.receiver_pin,
                                result.receipt_public_key)
        outbox = FileOutbox(Path(tempfile.mkdtemp()) / "outbox")
        capture_id, sealed, _ = seal_capture_to(
            X25519PublicKey.from_public_bytes(result.practice_public_key),
                                                station)
        outbox.add("capture", capture_id, sealed)
        worker = SyncWorker(outbox, station.key, target, locator,
                            audit=lambda e, d: events.append(e), timeout=10)
        outcome = worker.run_once()
        worker.stop()
    finally:
        locator.close()
    print(json.dumps({"addresses": addresses, "status": result.status, "outcome": outcome,
                      "capture_id": capture_id, "state": outbox.state(capture_id),
                      "events": events}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
