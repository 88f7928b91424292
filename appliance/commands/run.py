"""``capture-station run``: the station process (what systemd's capture-station.service runs).

Composes camera, barcode reader loop, button, LED, vault, sync worker and web UI; tells systemd
READY=1 once scanning and WATCHDOG=1 every half watchdog period (no-ops outside systemd).
SIGTERM (systemctl stop) finishes the capture in flight, then exits cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ._common import CommandError, get_config, new_command

log = logging.getLogger("capture_station.run")


def register(sub: argparse._SubParsersAction) -> None:
    parser = new_command(sub, "run", "run the station (camera, button, LED, delivery, web UI)",
                         __doc__)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compose import assemble
    from ..vault import VaultError

    cfg = get_config(args)
    logging.getLogger().setLevel(cfg.station.log_level.upper())
    try:
        assembly = assemble(cfg)
    except VaultError as exc:
        raise CommandError(str(exc)) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with assembly:
        enrolment = assembly.enrolment
        log.info("station %s running; %s", assembly.vault.station_id,
                 f"delivering to {enrolment.receiver_name}" if enrolment
                 else "NOT ENROLLED: captures are refused until `capture-station enrol`")
        if assembly.web is not None:
            log.info("web UI at %s (certificate %s)", assembly.web.url(),
                     assembly.web.tls.fingerprint)
        stop.wait()
        log.info("stopping: finishing any capture in flight")
    return 0
