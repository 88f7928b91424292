"""Frames in, events out: identities only after consistent reads, conflicts never guessed.

:class:`Reader` is what the workflow drives. Each preview frame goes through ``feed`` and
comes back as a (usually empty) list of events:

* :class:`PatientIdentified` / :class:`CaregiverIdentified` once the same person has been
  read in ``consecutive_reads`` frames in a row; again after they leave view and come back,
  and again if a later read adds the encounter;
* :class:`CommandRead` once a command card has been read in ``consecutive_reads`` frames;
* :class:`Conflict` at once when two different patients are read in one frame or within the
  last ``consecutive_reads`` frames (two wristbands in view); no patient is identified until
  only one remains for ``consecutive_reads`` frames;
* :class:`InvalidRead` once an invalid symbol (bad check digit, unknown command card, two
  different cards of one kind) has been read in ``consecutive_reads`` frames.

An event is reported once per run of frames in which its subject stays in view, so a card
held in front of the camera is one command, not eight a second. The reader is not
thread-safe: one scanning loop owns it.

Hard frames (a small, dim, curved or blurred band) get a second look where a symbol is seen
but not decoded (:class:`~barcode.enhance.SecondLook`): upscaling, another binariser, the
second backend, the last frames averaged while the band is held still, and, when the caller
passes ``full_res`` to :meth:`Reader.feed`, the same region from the camera's full-resolution
stream. ``ReaderSettings.second_look=False`` turns it off (one plain decode per frame).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .backends import Backend, BackendUnavailableError, make_backend
from .commands import Command
from .enhance import FullResCrop, SecondLook, SecondLookSettings
from .errors import BarcodeConfigError
from .identity import Identity
from .interpret import Interpretation, Interpreter, LocalFormat, local_formats_from_config
from .symbols import SYMBOLOGIES, SymbolRead


@dataclass(frozen=True)
class PatientIdentified:
    identity: Identity


@dataclass(frozen=True)
class CaregiverIdentified:
    identity: Identity


@dataclass(frozen=True)
class CommandRead:
    command: Command


@dataclass(frozen=True)
class Conflict:
    """Two or more different patients in view; ``patients`` have safe reprs."""

    patients: tuple[Identity, ...]


@dataclass(frozen=True)
class InvalidRead:
    """A symbol that looks like ours but cannot be used; ``reason`` never holds its data."""

    reason: str
    symbology: str


Event = PatientIdentified | CaregiverIdentified | CommandRead | Conflict | InvalidRead


@dataclass(frozen=True)
class ReaderSettings:
    """Plain values (from ``[barcode]`` and ``[workflow] body_sites``) that shape a reader."""

    formats: tuple[str, ...] = SYMBOLOGIES
    consecutive_reads: int = 2
    scan_rate_hz: float = 8.0
    local_formats: tuple[LocalFormat, ...] = ()
    body_sites: tuple[str, ...] = ()
    second_look: bool = True  # look closer where a symbol is seen but not decoded
    stack_frames: int = 4  # frames averaged for a band held still (1: no averaging)

    def __post_init__(self) -> None:
        if self.consecutive_reads < 1:
            raise BarcodeConfigError("consecutive_reads must be at least 1")
        if self.scan_rate_hz <= 0:
            raise BarcodeConfigError("scan_rate_hz must be positive")
        if self.stack_frames < 1:
            raise BarcodeConfigError("stack_frames must be at least 1")

    @property
    def interval(self) -> float:
        """Seconds between decoded preview frames."""
        return 1.0 / self.scan_rate_hz


class _Streaks:
    """Counts, per key, the consecutive frames it was seen in; reports each run once."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.counts: dict[Hashable, int] = {}

    def update(self, present: Iterable[Hashable]) -> list[Hashable]:
        seen = set(present)
        self.counts = {key: self.counts.get(key, 0) + 1 for key in seen}
        return [key for key, n in self.counts.items() if n == self.needed]

    def clear(self) -> None:
        self.counts = {}


def _distinct(identities: Iterable[Identity]) -> list[Identity]:
    """Merge reads of the same person; people (or encounters) that contradict stay apart."""
    out: list[Identity] = []
    for identity in identities:
        for i, known in enumerate(out):
            if known.compatible(identity):
                out[i] = known.merged(identity)
                break
        else:
            out.append(identity)
    return out


@dataclass
class Reader:
    """Decode frames with ``backend`` and turn them into events (see the module docstring)."""

    settings: ReaderSettings
    backend: Backend
    #: The other installed decoder, tried by the second look (None: only ``backend``).
    secondary: Backend | None = None
    _window: deque[tuple[Identity, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.interpreter = Interpreter(self.settings.local_formats, self.settings.body_sites)
        self.look: SecondLook | None = None
        if self.settings.second_look:
            self.look = SecondLook(self.backend, self.secondary,
                                   SecondLookSettings(stack_depth=self.settings.stack_frames))
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (the next reads start new runs)."""
        self._window = deque(maxlen=self.settings.consecutive_reads)
        self._streak: Identity | None = None  # the patient in view, merged over the run
        self._announced: Identity | None = None
        self._in_conflict = False
        self._caregivers = _Streaks(self.settings.consecutive_reads)
        self._commands = _Streaks(self.settings.consecutive_reads)
        self._invalid = _Streaks(self.settings.consecutive_reads)
        self._caregiver_ids: dict[Hashable, Identity] = {}
        self._meanings: dict[SymbolRead, Interpretation] = {}  # the last frame's symbols
        if self.look is not None:
            self.look.reset()

    @property
    def patient_in_view(self) -> Identity | None:
        """The patient announced by :class:`PatientIdentified` while their band stays in view
        (every frame since, with no other patient in the window); None otherwise. Lets the
        caller know a read is still current without a new event every frame."""
        return self._announced

    def read_frame(self, frame: Any, *, full_res: FullResCrop | None = None
                   ) -> list[Interpretation]:
        """Decode and interpret one frame, with no memory of other frames (``scan`` uses it).

        ``full_res`` is the escalation seam: given a box ``(left, top, right, bottom)`` in
        ``frame``'s pixels, it returns that region of the camera's full-resolution stream
        taken at the same moment (or None). It is called only for a region that shows a
        symbol the frame itself does not decode.
        """
        return self._read(frame, full_res, False)

    def feed(self, frame: Any, *, full_res: FullResCrop | None = None) -> list[Event]:
        """Process the next preview frame; returns the events it completes. Consecutive
        frames are remembered for averaging a band held still (``reset`` forgets them)."""
        return self.update(self._read(frame, full_res, True))

    def _read(self, frame: Any, full_res: FullResCrop | None, remember: bool
              ) -> list[Interpretation]:
        """Decode and interpret, each symbol once: the second look asks whether a patient was
        read before it decides to search, and a band held in view is the same symbol frame
        after frame, so its meaning is taken from the previous frame's instead of parsed
        again (the interpreter depends on nothing but the symbol)."""
        previous, meanings = self._meanings, {}

        def meaning(symbol: SymbolRead) -> Interpretation:
            known = meanings.get(symbol) or previous.get(symbol)
            if known is None:
                known = self.interpreter.interpret(symbol)
            meanings[symbol] = known
            return known

        def patient_read(found: list[SymbolRead]) -> bool:
            return any(meaning(s).role == "patient" for s in found)

        if self.look is None:
            symbols = self.backend.decode(frame)
        else:
            symbols = self.look.decode(frame, full_res=full_res, remember=remember,
                                       enough=patient_read)
        results = [meaning(s) for s in symbols]
        self._meanings = meanings
        return results

    def update(self, results: Sequence[Interpretation]) -> list[Event]:
        """Advance the state with one frame's interpretations (``feed`` without decoding)."""
        events: list[Event] = []
        events += self._update_patients(
            [r.identity for r in results if r.role == "patient" and r.identity])
        events += self._update_caregivers(
            [r.identity for r in results if r.role == "caregiver" and r.identity])
        events += self._update_commands(results)
        return events

    # -- patients --------------------------------------------------------------------------
    def _update_patients(self, identities: list[Identity]) -> list[Event]:
        here = _distinct(identities)
        self._window.append(tuple(here))
        in_window = _distinct(i for frame in self._window for i in frame)
        if len(in_window) > 1:
            self._streak = self._announced = None
            if self._in_conflict:
                return []
            self._in_conflict = True
            return [Conflict(tuple(in_window))]
        self._in_conflict = False
        if not here:
            self._streak = self._announced = None
            return []
        current = here[0]
        if self._streak is not None and self._streak.compatible(current):
            self._streak = self._streak.merged(current)
        else:
            self._streak, self._announced = current, None
        # No conflict in the window, so every non-empty frame in it is this patient.
        ready = len(self._window) == self.settings.consecutive_reads and all(self._window)
        if ready and self._announced != self._streak:
            self._announced = self._streak
            return [PatientIdentified(self._streak)]
        return []

    # -- caregivers, commands, invalid reads -------------------------------------------------
    def _update_caregivers(self, identities: list[Identity]) -> list[Event]:
        here = _distinct(identities)
        by_key = {i.key: i for i in here}
        self._caregiver_ids = {**self._caregiver_ids, **by_key}
        done = self._caregivers.update(by_key)
        self._caregiver_ids = {k: v for k, v in self._caregiver_ids.items()
                               if k in self._caregivers.counts}
        return [CaregiverIdentified(self._caregiver_ids[k]) for k in done]

    def _update_commands(self, results: Sequence[Interpretation]) -> list[Event]:
        by_kind: dict[str, set[Command]] = {}
        for r in results:
            if r.role == "command" and r.command is not None:
                by_kind.setdefault(r.command.kind, set()).add(r.command)
        commands: list[Command] = []
        invalid: dict[Hashable, InvalidRead] = {}
        for kind, cmds in by_kind.items():
            if len(cmds) == 1:
                commands.extend(cmds)
            else:
                symbology = next(r.symbology for r in results
                                 if r.command is not None and r.command.kind == kind)
                invalid[("conflict", kind)] = InvalidRead(
                    f"several different {kind} cards in view", symbology)
        for r in results:
            if r.role == "invalid":
                invalid[(r.symbology, r.error)] = InvalidRead(r.error or "invalid", r.symbology)
        events: list[Event] = [CommandRead(c) for c in self._commands.update(commands)]
        events += [invalid[k] for k in self._invalid.update(invalid)]
        return events


def build_reader(
    barcode: Mapping[str, Any],
    body_sites: Sequence[str] = (),
    *,
    backend: str | Backend | None = None,
) -> Reader:
    """A reader from the ``[barcode]`` config section (any mapping with its keys) and the
    ``[workflow] body_sites`` list.

    ``backend`` overrides ``barcode["backends"]``: a backend name or a ready instance (then
    no second backend is used). Otherwise the first installed backend decodes and the next
    installed one helps the second look. ``barcode["second_look"]`` (default true) and
    ``barcode["stack_frames"]`` (default 4) tune the second look. Raises
    :class:`~barcode.errors.BarcodeConfigError` (a ValueError) for an unusable setting and
    :class:`~barcode.backends.BackendUnavailableError` when no decoder is installed.
    """
    formats = tuple(barcode.get("formats", SYMBOLOGIES))
    settings = ReaderSettings(
        formats=formats,
        consecutive_reads=int(barcode.get("consecutive_reads", 2)),
        scan_rate_hz=float(barcode.get("scan_rate_hz", 8.0)),
        local_formats=local_formats_from_config(barcode.get("local_formats", ())),
        body_sites=tuple(body_sites),
        second_look=bool(barcode.get("second_look", True)),
        stack_frames=int(barcode.get("stack_frames", 4)),
    )
    secondary: Backend | None = None
    if backend is None or isinstance(backend, str):
        names = [backend] if backend else list(barcode.get("backends", ("zxing-cpp", "pyzbar")))
        backend = make_backend(names, formats)
        rest = [n for n in names[names.index(backend.name) + 1:] if n != backend.name]
        if rest:
            try:
                secondary = make_backend(rest, formats)
            except BackendUnavailableError:
                secondary = None
    return Reader(settings, backend, secondary)

