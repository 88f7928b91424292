"""Assemble a whole station from its configuration: the one place that wires parts together.

``capture-station run`` and the demo both use :func:`assemble`; tests use it with a fake
camera, gpiozero's MockFactory and loopback interfaces. Each part is built by its own package
(vault, reader, sync worker, web UI); this module only connects them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from barcode.reader import (
    CaregiverIdentified,
    CommandRead,
    Conflict,
    InvalidRead,
    PatientIdentified,
    build_reader,
)
from capture.camera import Camera

from .config import Config
from .enrolment import Enrolment, load_enrolment
from .hardware import build_button, build_camera, build_light, build_pin_factory
from .paths import StatePaths
from .sdnotify import Notifier
from .station import Station, StationInfo, clock_synchronised, disk_health
from .workflow import (
    BandInView,
    CardSeen,
    CaregiverSeen,
    ConflictSeen,
    DocumentAction,
    Event,
    InvalidSeen,
    PatientSeen,
    Rules,
    Workflow,
)

log = logging.getLogger("capture_station.compose")

#: Command-card kinds (barcode/commands.py) -> workflow card kinds.
CARD_KINDS = {"consent": "consent", "site": "body_site", "laterality": "laterality",
              "session": "end_session"}


def to_workflow_event(event: Any) -> Event | None:
    """Translate a barcode reader event into the workflow's vocabulary."""
    if isinstance(event, PatientIdentified):
        return PatientSeen(event.identity)
    if isinstance(event, CaregiverIdentified):
        return CaregiverSeen(event.identity)
    if isinstance(event, CommandRead):
        if event.command.kind == "document":
            return DocumentAction(event.command.value)
        kind = CARD_KINDS.get(event.command.kind)
        if kind is None:
            return InvalidSeen("unknown card kind")
        return CardSeen(kind, "" if kind == "end_session" else event.command.value)
    if isinstance(event, Conflict):
        return ConflictSeen()
    if isinstance(event, InvalidRead):
        return InvalidSeen(event.reason)
    return None


class WorkflowReader:
    """The barcode reader, speaking workflow events (what :class:`Station` consumes)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def feed(self, luma: Any, *, full_res: Callable[[Any], Any] | None = None) -> list[Event]:
        """The frame's barcode events as workflow events; ``full_res`` (the camera's
        full-resolution crop) goes to the reader's second look."""
        out = []
        for event in self.reader.feed(luma, full_res=full_res):
            translated = to_workflow_event(event)
            if translated is not None:
                out.append(translated)
        in_view = self.reader.patient_in_view
        if in_view is not None and not any(isinstance(e, PatientSeen) for e in out):
            out.append(BandInView(in_view))  # keeps the session's read fresh
        return out

    def reset(self) -> None:
        """Forget the runs and frames seen so far (the camera restarted)."""
        self.reader.reset()


def rules_from_config(cfg: Config) -> Rules:
    wf = cfg.workflow
    return Rules(
        consent_required=wf.consent_required,
        emergency_override=wf.emergency_override,
        idle_timeout_seconds=float(wf.idle_timeout_seconds),
        require_operator=wf.require_operator,
        body_sites=tuple(wf.body_sites),
        rescan_after_seconds=float(wf.rescan_after_seconds),
    )


@dataclass
class Assembly:
    """A running (or ready to run) station and its parts, for the CLI, demo and tests."""

    cfg: Config
    paths: StatePaths
    vault: Any
    station: Station
    camera: Camera
    pin_factory: Any
    sync_worker: Any = None
    locator: Any = None
    web: Any = None
    accounts: Any = None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _upkeep_stop: threading.Event = field(default_factory=threading.Event)

    @property
    def enrolment(self) -> Enrolment | None:
        return load_enrolment(self.paths)

    def start(self) -> Assembly:
        self.station.start()
        if self.sync_worker is not None:
            self.sync_worker.start()
        if self.web is not None:
            self.web.start()
        threading.Thread(target=self._upkeep, name="vault-upkeep", daemon=True).start()
        return self

    def _upkeep(self) -> None:
        while not self._upkeep_stop.wait(30.0):
            try:
                result = self.vault.tick()
                if result.get("audit_batch") and self.sync_worker is not None:
                    self.sync_worker.wake()
            except Exception:  # upkeep must never stop the station
                log.exception("vault upkeep failed")

    def stop(self) -> None:
        """Finish the capture in flight, then stop delivery, the web UI and the vault."""
        self._upkeep_stop.set()
        self.station.stop()
        if self.web is not None:
            self.web.stop()
        if self.sync_worker is not None:
            self.sync_worker.stop()
        close_locator = getattr(self.locator, "close", None)
        if close_locator is not None:
            close_locator()
        for close in reversed(self._closers):
            close()
        self.vault.close()

    def __enter__(self) -> Assembly:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def assemble(
    cfg: Config,
    *,
    camera: Camera | None = None,
    pin_factory: Any = None,
    receiver_addresses: Sequence[tuple[str, int]] | None = None,
    web: bool | None = None,
    web_host: str | None = None,
    web_port: int | None = None,
    demo_press: Callable[[], None] | None = None,
    notifier: Notifier | None = None,
    idle_poll_seconds: float = 5.0,
    qr_spool: Path | None = None,
) -> Assembly:
    """Build every part of a station from ``cfg``; call ``start()`` (or use ``with``).

    ``qr_spool``: where a provisioning QR code read while not enrolled is handed to
    ``capture-station-provision`` (default: ``$RUNTIME_DIRECTORY`` under systemd, where the
    path unit watches; elsewhere off: use ``capture-station provision --scan``).
    """
    from sync.uploader import DeliveryTarget, MdnsLocator, StaticLocator, SyncWorker

    from . import fakerig
    from .vault import Vault

    paths = StatePaths(cfg.state_dir)
    # `run` with the fake camera and mock pins: a script drives the scene, the button and the
    # wall clock (appliance/fakerig.py); never on real hardware, nor when a caller injects.
    rig_clock = (fakerig.SteppableClock(paths.root)
                 if fakerig.wanted(cfg) and camera is None and pin_factory is None else None)
    clocks: dict[str, Any] = ({"clock": rig_clock} if rig_clock is not None else {})
    vault = Vault.from_config(cfg, **clocks)
    closers: list[Callable[[], None]] = []
    try:
        camera = camera or build_camera(cfg)
        factory = pin_factory if pin_factory is not None else build_pin_factory(cfg)
        button = build_button(cfg, factory)
        closers.append(button.close)
        light = build_light(cfg, factory)
        closers.append(light.close)
        reader = WorkflowReader(build_reader(dict(cfg.barcode), cfg.workflow.body_sites))
        workflow = Workflow(rules_from_config(cfg))
        sync_worker = locator = None
        holder: dict[str, Any] = {}

        def on_captured(_capture_id: str) -> None:
            if holder.get("worker") is not None:
                holder["worker"].wake()

        def health() -> tuple[bool, bool]:
            return load_enrolment(paths) is not None, disk_health(paths.root,
                                                                  cfg.vault.reserve_mb)

        enrolment = load_enrolment(paths)
        spooler = None
        if enrolment is None:
            from sync.provisioning import FILE_NAME

            from .provisioning import QrSpooler

            runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
            spool = qr_spool or (Path(runtime) / FILE_NAME if runtime else None)
            if spool is not None:
                spooler = QrSpooler(spool).feed
        station = Station(
            workflow=workflow, camera=camera, reader=reader, store=vault, audit=vault.audit,
            info=StationInfo(vault.station_id, cfg.station.name), button=button, light=light,
            scan_rate_hz=cfg.barcode.scan_rate_hz, health=health,
            notifier=notifier or Notifier(), on_captured=on_captured,
            unenrolled_frames=spooler,
        )
        if enrolment is not None:
            import base64

            target = DeliveryTarget(
                station_id=vault.station_id, receiver_name=enrolment.receiver_name,
                pin=enrolment.receiver_pin,
                receipt_public_key=base64.b64decode(enrolment.receipt_public_key))
            if receiver_addresses is not None:
                locator = StaticLocator(list(receiver_addresses))
            else:
                locator = MdnsLocator(enrolment.receiver_name, enrolment.receiver_pin,
                                      interfaces=cfg.sync.interfaces or None,
                                      on_change=lambda: on_captured(""))

            def sync_audit(event: str, details: dict[str, Any]) -> None:
                vault.audit.record(event, **{k: v for k, v in details.items()
                                             if isinstance(v, str | int | float | bool)})

            sync_worker = SyncWorker(
                vault, vault.identity.private_key, target, locator, audit=sync_audit,
                lease_seconds=cfg.vault.lease_seconds,
                retry_min_seconds=cfg.sync.retry_min_seconds,
                retry_max_seconds=cfg.sync.retry_max_seconds,
                idle_poll_seconds=idle_poll_seconds,
                **({"signing_clock": rig_clock, "monotonic": time.monotonic} | clocks
                   if rig_clock is not None else {}))
            holder["worker"] = sync_worker
        assembly = Assembly(cfg, paths, vault, station, camera, factory, sync_worker,
                            locator, _closers=closers)
        if cfg.web.enabled if web is None else web:
            _attach_web(assembly, demo_press, web_host, web_port)
        if rig_clock is not None:
            control = fakerig.attach(assembly, rig_clock)
            if control is not None:
                assembly._closers.append(control.close)
        return assembly
    except BaseException:
        for close in reversed(closers):
            close()
        vault.close()
        raise


def _attach_web(assembly: Assembly, demo_press: Callable[[], None] | None,
                host: str | None, port: int | None) -> None:
    from .web.accounts import open_accounts
    from .web.app import create_app
    from .web.info import station_info_provider
    from .web.server import web_server
    from .web.status import station_status
    from .web.tls import ensure_web_tls

    cfg, station, paths = assembly.cfg, assembly.station, assembly.paths
    accounts = open_accounts(paths)
    tls = ensure_web_tls(paths, station_name=cfg.station.name)

    def receiver() -> dict[str, Any]:
        enrolment = assembly.enrolment
        if enrolment is None:
            return {"name": "", "state": "not enrolled",
                    "detail": "run capture-station enrol"}
        worker = assembly.sync_worker
        state = worker.receiver_state if worker is not None else "unknown"
        return {"name": enrolment.receiver_name, "state": state}

    def status() -> dict[str, Any]:
        return station_status(workflow=station.workflow, vault=assembly.vault, cfg=cfg,
                              receiver=receiver(), clock_synced=clock_synchronised())

    app = create_app(
        vault=assembly.vault, accounts=accounts, audit=assembly.vault.audit, status=status,
        workflow_events=station.dispatch, demo_press=demo_press, config=cfg,
        station_info=station_info_provider(cfg, paths, tls, url=lambda: assembly.web.url()))
    assembly.accounts = accounts
    assembly.web = web_server(app, cfg, paths, host=host, port=port, tls=tls)
