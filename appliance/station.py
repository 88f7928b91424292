"""The station runtime: the thin loop around :class:`~appliance.workflow.Workflow`.

It feeds the workflow with events from the hardware (preview frames through the barcode reader,
button clicks and holds, a one-second tick with health checks) and carries out the effects the
workflow returns: LED and buzzer signals, audit records, and captures (still -> sealed ->
queued, on one capture thread so a capture never blocks scanning or the button). The camera's
preview of the still goes to the store with it, so the store need not decode the full image.

No error in one thread may leave the workflow stuck: an effect that fails (an audit line on a
full disk, a LED pin) is logged and the other effects still run, every capture request is
answered with :class:`CaptureFinished` whatever happens, and the threads never die of an
exception. Should one hang or die anyway, its heartbeat (:mod:`.supervision`) goes silent and
the watchdog is no longer fed, so systemd restarts the station instead of leaving a nurse in
front of a station that shows "capturing" forever.

Everything is injected, so the same class runs on a Pi, in the demo and in tests.
"""

from __future__ import annotations

import errno
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from barcode.errors import BarcodeError
from capture.camera import Camera, CameraError
from capture.controls import CaptureButton, StatusLight

from . import signals as signal_table
from .document_desk import DocumentDesk
from .enrolment import NotEnrolledError
from .sdnotify import Notifier
from .supervision import Heartbeats
from .vault.errors import DiskFullError
from .workflow import (
    Audit,
    CaptureFinished,
    Click,
    CloseDocument,
    DocumentFinished,
    DropPage,
    Effect,
    Event,
    HealthChanged,
    Hold,
    Job,
    PageFinished,
    Refusal,
    Signal,
    Stopping,
    TakeCapture,
    TakePage,
    Tick,
    Workflow,
)

log = logging.getLogger("capture_station.station")

#: systemd-timesyncd creates this file once the clock is synchronised.
TIMESYNC_MARKER = Path("/run/systemd/timesync/synchronized")


class FrameReader(Protocol):
    def feed(self, luma: Any, *, full_res: Callable[[Any], Any] | None = None) -> list[Event]:
        """Workflow events found in one preview frame (already debounced across frames).
        ``full_res`` gives the full-resolution stream's luma for a box of the frame."""

    def reset(self) -> None:
        """Forget the frames seen so far (the camera restarted: they are not this scene)."""


class CaptureStore(Protocol):
    def store_capture(self, jpeg: bytes, metadata: dict[str, Any], *,
                      preview: bytes | None = None) -> Any:
        """Seal and queue a capture durably; returns its id (or a record with ``capture_id``).

        ``preview`` is the camera's small JPEG of the same moment; None asks the store to make
        one from ``jpeg``."""

    def store_document(self, pdf: bytes, metadata: dict[str, Any], *,
                       preview: bytes) -> Any:
        """Seal and queue a scanned document (PDF and page-1 preview) durably; its id."""


class AuditSink(Protocol):
    def record(self, event: str, **fields: Any) -> Any: ...


@dataclass
class StationInfo:
    station_id: str
    station_name: str


def refusal_for(exc: BaseException) -> Refusal:
    """Which signal a failed capture shows."""
    if isinstance(exc, CameraError):
        return Refusal.CAMERA_FAULT
    if isinstance(exc, NotEnrolledError):
        return Refusal.NOT_ENROLLED
    if isinstance(exc, DiskFullError) or (
        isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    ):
        return Refusal.DISK_FULL
    return Refusal.STORAGE_FAULT


def clock_synchronised() -> bool:
    return TIMESYNC_MARKER.exists()


class Station:
    """Composes camera, reader, button, light, vault and audit around one workflow."""

    def __init__(
        self,
        *,
        workflow: Workflow,
        camera: Camera,
        reader: FrameReader,
        store: CaptureStore,
        audit: AuditSink,
        info: StationInfo,
        button: CaptureButton | None = None,
        light: StatusLight | None = None,
        scan_rate_hz: float = 8.0,
        health: Callable[[], tuple[bool, bool]] | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_captured: Callable[[str], None] | None = None,
        unenrolled_frames: Callable[[Any], Any] | None = None,
        capture_stall_seconds: float = 60.0,
    ) -> None:
        self.workflow = workflow
        self.camera = camera
        self.reader = reader
        self.store = store
        self.audit = audit
        self.info = info
        self.button = button
        self.light = light
        self.scan_interval = 1.0 / scan_rate_hz
        self.health = health
        self.notifier = notifier or Notifier(environ={})
        self.clock = clock
        self.on_captured = on_captured
        #: While the station is not enrolled, every preview frame also goes here (the
        #: provisioning-QR spooler), so IT can enrol a station by showing it a code.
        self.unenrolled_frames = unenrolled_frames
        self._lock = threading.RLock()
        self._captures: queue.Queue[Job | None] = queue.Queue()
        #: The open document's pages, in memory only (touched by the capture thread alone).
        self.desk = DocumentDesk(max_pages=workflow.rules.max_pages)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._restore: threading.Timer | None = None
        self._camera_ok = True
        self._reader_fault: str | None = None
        #: Every thread that serves a nurse beats here; the watchdog is fed only while all do.
        self.heartbeats = Heartbeats()
        #: How long one capture (still + seal) may take before the capture thread counts as
        #: stuck; far beyond a real capture, well inside what a nurse would wait for a restart.
        self.capture_stall_seconds = capture_stall_seconds
        self._stalled: list[str] = []
        self.captured_ids: list[str] = []
        self.document_ids: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self.camera.start()
        except CameraError as exc:
            log.error("camera failed to start: %s", exc)
            self._camera_ok = False
        self.reader.reset()  # a (re)started camera: nothing seen before counts
        if self.button is not None:
            self.button.when_clicked = lambda: self.dispatch(Click())
            self.button.when_held = lambda: self.dispatch(Hold())
        self._check_health()
        self._show(self.workflow.steady_signal(), steady=True)
        watchdog = self.notifier.watchdog_seconds or 0
        limits = {"scan": max(10.0, watchdog / 2) + self.scan_interval,
                  "capture": max(self.capture_stall_seconds, 2.0),
                  "tick": max(10.0, watchdog / 2)}
        for target, name in ((self._scan_loop, "scan"), (self._capture_loop, "capture"),
                             (self._tick_loop, "tick")):
            thread = threading.Thread(target=target, name=f"station-{name}", daemon=True)
            self.heartbeats.register(name, limits[name], thread)
            thread.start()
            self._threads.append(thread)
        self._record("station_started", station=self.info.station_id)
        self.notifier.ready("scanning")

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the capture in flight (and any queued), then stop every thread."""
        self.notifier.stopping()
        self.dispatch(Stopping())  # an open document is sealed before the capture thread ends
        if self.button is not None:
            self.button.when_clicked = None
            self.button.when_held = None
        self._stop.set()
        self._captures.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self.desk.forget_all():  # a page was in flight as the stop came: not sealed
            log.warning("an open document was dropped at stop")
        if self._restore is not None:
            self._restore.cancel()
        for name in ("scan", "capture", "tick"):
            self.heartbeats.forget(name)
        self._record("station_stopped", station=self.info.station_id)
        self.camera.close()

    def __enter__(self) -> Station:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- events in, effects out -----------------------------------------------------------------
    def dispatch(self, event: Event) -> list[Effect]:
        with self._lock:
            effects = self.workflow.handle(event, self.clock())
            for effect in effects:
                self._apply(effect)
        return effects

    def _apply(self, effect: Effect) -> None:
        """Carry out one effect. A failing effect costs only itself: the workflow has already
        moved on, and the effects after it (the capture request, the signal) must still run,
        or the workflow waits for an answer that never comes."""
        if isinstance(effect, Audit):
            self._record(effect.event, **effect.fields)
        elif isinstance(effect, TakeCapture | TakePage | DropPage | CloseDocument):
            self._captures.put(effect)  # in order, on the one capture thread
        elif isinstance(effect, Signal):
            try:
                self._show(effect)
            except Exception as exc:  # noqa: BLE001 - a LED fault must not stop the workflow
                log.error("signal %s not shown: %s: %s", effect.name, type(exc).__name__, exc)

    def _record(self, event: str, **fields: Any) -> None:
        """Audit, without letting a full disk (or any audit failure) abort what follows."""
        try:
            self.audit.record(event, **fields)
        except OSError as exc:
            log.error("audit record %s not written: %s", event, exc.strerror or exc)
        except Exception as exc:  # noqa: BLE001 - logged as what it is; the station goes on
            log.error("audit record %s not written: %s", event, type(exc).__name__)

    def _show(self, signal: Signal, *, steady: bool = False) -> None:
        if self.light is None:
            return
        spec = signal_table.SIGNALS[signal.name]
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        self.light.show(signal_table.pattern_for(signal.name, steady=steady or not spec.transient))
        if spec.transient and not steady:
            timer = threading.Timer(spec.seconds, self._show_steady)
            timer.daemon = True
            self._restore = timer
            timer.start()

    def _show_steady(self) -> None:
        with self._lock:
            self._restore = None
            self._show(self.workflow.steady_signal(), steady=True)

    # -- threads --------------------------------------------------------------------------------
    def _scan_loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.heartbeats.beat("scan")
            try:
                luma = self.camera.preview_luma()
            except Exception as exc:  # noqa: BLE001 - the scan loop must never die
                if self._camera_ok:
                    log.error("preview failed: %s: %s", type(exc).__name__, exc)
                self._camera_ok = False
                self._stop.wait(1.0)
                continue
            if not self._camera_ok:  # the camera is back: frames from before are another scene
                self.reader.reset()
            self._camera_ok = True
            for event in self._read(luma):
                self._dispatch_safely(event)
            next_at += self.scan_interval
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def _read(self, luma: Any) -> list[Event]:
        """The events in one frame. A reader failure (a :class:`BarcodeError` or a bug) costs
        this frame and is logged as what it is: it is never shown as a camera fault."""
        try:
            events = self.reader.feed(luma, full_res=self._full_res)
            if self.unenrolled_frames is not None and not self.workflow.enrolled:
                self.unenrolled_frames(luma)
        except BarcodeError as exc:
            self._log_reader_fault("barcode reader refused a frame", exc, logging.WARNING)
            return []
        except Exception as exc:  # noqa: BLE001 - the scan loop must never die
            self._log_reader_fault("barcode reader failed", exc, logging.ERROR)
            return []
        self._reader_fault = None
        return events

    def _log_reader_fault(self, what: str, exc: Exception, level: int) -> None:
        kind = type(exc).__name__
        if kind != self._reader_fault:  # once per run of the same failure, not 8 a second
            log.log(level, "%s: %s: %s", what, kind, exc)
        self._reader_fault = kind

    def _full_res(self, box: Any) -> Any:
        """The escalation seam for the reader: the main stream's luma for a preview box, or
        None when the camera has no such stream or cannot give it now (the reader then
        works from the preview alone; a failing camera shows on the next preview frame)."""
        crop = getattr(self.camera, "main_luma_crop", None)
        if crop is None:
            return None
        try:
            return crop(box)
        except CameraError as exc:
            log.warning("full-resolution crop failed: %s", exc)
            return None

    def _dispatch_safely(self, event: Event) -> None:
        """Dispatch from a loop that must not die of it (a bug is logged, the loop goes on)."""
        try:
            self.dispatch(event)
        except Exception:
            log.exception("%s could not be handled", type(event).__name__)

    def _tick_loop(self) -> None:
        interval = 1.0
        if self.notifier.watchdog_seconds:
            interval = min(interval, self.notifier.watchdog_seconds / 2)
        while not self._stop.wait(interval):
            self.heartbeats.beat("tick")
            try:
                self._check_health()
            except Exception:
                log.exception("health check failed")
            self._dispatch_safely(Tick())
            self._feed_watchdog()

    def _feed_watchdog(self) -> None:
        stalled = self.stalled()
        if not stalled:
            if self._stalled:
                log.warning("station threads serve again: feeding the watchdog")
                self.notifier.status("scanning")
            self._stalled = []
            self.notifier.watchdog()
            return
        if stalled != self._stalled:
            log.error("station thread(s) %s dead or stuck: withholding the watchdog so systemd "
                      "restarts the station", ", ".join(stalled))
            self.notifier.status(f"stalled: {', '.join(stalled)}")
        self._stalled = stalled

    def stalled(self) -> list[str]:
        """The station threads that are dead or have not made progress within their limit
        (a camera call that never returns, a capture that hangs, a thread that died)."""
        return self.heartbeats.stalled()

    def is_alive(self) -> bool:
        """True while every thread that serves a nurse is alive and making progress; when
        False the watchdog is not fed and systemd restarts the station."""
        return not self.stalled()

    def _check_health(self) -> None:
        enrolled, disk_ok = self.health() if self.health else (True, True)
        wf = self.workflow
        if (enrolled, disk_ok, self._camera_ok) != (wf.enrolled, wf.disk_ok, wf.camera_ok):
            self.dispatch(HealthChanged(enrolled, disk_ok, self._camera_ok))

    def _capture_loop(self) -> None:
        while True:
            self.heartbeats.beat("capture")
            try:
                request = self._captures.get(timeout=1.0)
            except queue.Empty:
                continue
            if request is None:
                return
            try:
                if isinstance(request, TakeCapture):
                    self._capture(request)
                else:
                    self._document_step(request)
            except Exception:  # a bug past the store: the workflow must still leave capturing
                log.exception("capture request failed")
                answer = _failure_answer(request)
                if answer is not None:
                    self._dispatch_safely(answer)

    def _stamp(self) -> dict[str, Any]:
        """The station's facts for an item's metadata, taken now."""
        return {"station_id": self.info.station_id, "station_name": self.info.station_name,
                "captured_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "clock_synced": clock_synchronised()}

    def _document_step(self, job: TakePage | DropPage | CloseDocument) -> None:
        """A page to take, drop, or a document to seal (:mod:`.document_desk`); every failure
        reaches the workflow, like a capture's."""
        if isinstance(job, DropPage):
            self.desk.drop_page(job.document)
            return
        event: PageFinished | DocumentFinished
        try:
            if isinstance(job, TakePage):
                still = self.camera.capture_still()
                event = self.desk.add_page(job, still.jpeg, taken_at=self._stamp()["captured_at"])
            else:
                event = self.desk.close(job, self.store, self._stamp())
        except Exception as exc:  # noqa: BLE001 - every failure must reach the workflow
            refusal = refusal_for(exc)
            if refusal is Refusal.CAMERA_FAULT:
                self._camera_ok = False
            what = "page" if isinstance(job, TakePage) else "document"
            log.error("%s failed (%s): %s", what, refusal.value, type(exc).__name__)
            event = PageFinished(job.request_id, error=refusal) if isinstance(job, TakePage) \
                else DocumentFinished(job.request_id, error=refusal)
        self._dispatch_safely(event)
        if isinstance(event, DocumentFinished) and event.document_id is not None:
            self.document_ids.append(event.document_id)
            if self.on_captured is not None:
                self.on_captured(event.document_id)

    def _capture(self, request: TakeCapture) -> None:
        metadata = dict(request.metadata)
        metadata.update(self._stamp())
        try:
            still = self.camera.capture_still()
            result = self.store.store_capture(still.jpeg, metadata, preview=still.preview)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the workflow
            refusal = refusal_for(exc)
            if refusal is Refusal.CAMERA_FAULT:
                self._camera_ok = False
            log.error("capture failed (%s): %s", refusal.value, type(exc).__name__)
            self.dispatch(CaptureFinished(request.request_id, error=refusal))
            return
        capture_id = str(getattr(result, "capture_id", result))
        self.captured_ids.append(capture_id)
        self.dispatch(CaptureFinished(request.request_id, capture_id=capture_id))
        if self.on_captured is not None:
            try:
                self.on_captured(capture_id)
            except Exception:  # the capture is stored; telling the uploader is a courtesy
                log.exception("on_captured failed")


def disk_health(state_dir: Path, reserve_mb: int) -> bool:
    try:
        return shutil.disk_usage(state_dir).free >= reserve_mb * 1024 * 1024
    except OSError:
        return False


def _failure_answer(request: TakeCapture | TakePage | DropPage | CloseDocument
                    ) -> CaptureFinished | PageFinished | DocumentFinished | None:
    """The refusal that answers a capture-thread job which failed unexpectedly (a dropped page
    needs no answer): the workflow waits for one, so there must always be one."""
    if isinstance(request, TakeCapture):
        return CaptureFinished(request.request_id, error=Refusal.STORAGE_FAULT)
    if isinstance(request, TakePage):
        return PageFinished(request.request_id, error=Refusal.STORAGE_FAULT)
    if isinstance(request, CloseDocument):
        return DocumentFinished(request.request_id, error=Refusal.STORAGE_FAULT)
    return None
