"""What the LED (and buzzer) shows for every state and every refusal: the one signal table.

Designed for a nurse with gloves who is looking at the patient, not at the station. Accepted
and refused are told apart at a glance, without counting, because they belong to different
rhythm *families*: anything accepted is quick bright flashes with short chirps; anything
refused is long light with a long beep. The refusals a nurse fixes herself (show the band,
the consent card, her badge, retake the page) are slow long pulses with one long beep each,
and their number says what to show; everything else refused is one very long light. Every
transient signal begins by going dark, so it stands out from the steady light of the state.
``docs/workflow.md``'s signal table and the legend card are generated from :data:`SIGNALS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from capture.controls import Pattern

Colour = tuple[int, int, int]
GREEN, AMBER, BLUE, RED, CYAN, WHITE, PURPLE, DARK = (
    (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 0), (0, 1, 1), (1, 1, 1), (1, 0, 1), (0, 0, 0))
COLOUR_NAMES: dict[Colour, str] = {
    GREEN: "green", AMBER: "amber", BLUE: "blue", RED: "red", CYAN: "cyan", WHITE: "white",
    PURPLE: "purple", DARK: "off"}

Outcome = Literal["state", "accepted", "refused"]

# The two rhythms a nurse learns; everything else is built from them.
FLASH, FLASH_GAP, CHIRP = 0.1, 0.1, 0.05  # accepted: quick flashes, short chirps
PULSE, PULSE_GAP = 0.6, 0.4  # refused, fix it yourself: slow pulses, one long beep each
LONG, LONG_BEEP = 2.0, 1.2  # refused otherwise: one very long light, one long beep
LEAD = 0.3  # darkness before every transient signal (0.6 before a refusal)


@dataclass(frozen=True)
class Family:
    """A rhythm family: how its signals look and sound, and the timing rule they all keep.

    ``fits`` checks a pattern against the family's rule, so a new signal cannot join a family
    with a rhythm of another (tests check every row).
    """

    name: str
    light: str
    sound: str
    meaning: str
    fits: Callable[[Pattern], bool]


def _accepted(p: Pattern) -> bool:
    return (bool(p.lit_seconds()) and max(p.lit_seconds()) <= 0.15
            and all(b <= 0.1 for b in p.beep_seconds()) and p.repeat is not None)


def _fix(p: Pattern) -> bool:
    lit = p.lit_seconds()
    return (p.color == RED and bool(lit) and all(0.5 <= s <= 1.0 for s in lit)
            and p.beep_seconds() == lit and p.repeat is not None)


def _refused(p: Pattern) -> bool:
    return (p.color == RED and p.lit_seconds() == [LONG] and len(p.beep_seconds()) == 1
            and p.beep_seconds()[0] >= 1.0)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("state", "steady light, slow blink or dark", "silent",
           "what the station is doing now", lambda p: p.lead == 0 and not p.beeps),
    Family("accepted", "quick bright flashes (colour says what)", "short chirps",
           "accepted: carry on", _accepted),
    Family("fix", "slow long red pulses: 1 band, 2 consent card, 3 badge, 4 page",
           "one long beep per pulse",
           "refused: show what the pulses ask for, then try again", _fix),
    Family("refused", "one very long red light", "one long beep",
           "refused: not accepted (steady long blinks after: the station has a fault)",
           _refused),
)}


@dataclass(frozen=True)
class SignalSpec:
    """One row: the pattern, its family, whether it is a state, an acceptance or a refusal
    (declared, not derived from the family, so the tests can hold the two against each
    other), and what it means in a nurse's words."""

    pattern: Pattern
    family: str
    outcome: Outcome
    meaning: str
    #: What to show for a refusal the nurse fixes herself (the same number of pulses means
    #: the same thing to do).
    action: str = ""

    @property
    def transient(self) -> bool:
        """Plays once, then the steady signal of the current state returns."""
        return self.outcome != "state"

    @property
    def seconds(self) -> float:
        """How long a transient signal plays before the steady one returns."""
        return self.pattern.seconds if self.transient else 1.0


def _state(name: str, colour: Colour, rhythm: tuple[float, ...], meaning: str
           ) -> tuple[str, SignalSpec]:
    return name, SignalSpec(Pattern(name, colour, rhythm), "state", "state", meaning)


def _accept(name: str, colour: Colour, flashes: int, chirps: int, meaning: str
            ) -> tuple[str, SignalSpec]:
    pattern = Pattern(name, colour, (FLASH, FLASH_GAP), repeat=flashes, lead=LEAD,
                      beeps=(CHIRP, CHIRP) * chirps)
    return name, SignalSpec(pattern, "accepted", "accepted", meaning)


def _fix_it(name: str, pulses: int, action: str, meaning: str) -> tuple[str, SignalSpec]:
    pattern = Pattern(name, RED, (PULSE, PULSE_GAP), repeat=pulses, lead=2 * LEAD,
                      beeps=(PULSE, PULSE_GAP) * pulses)
    return name, SignalSpec(pattern, "fix", "refused", meaning, action)


def _refuse(name: str, meaning: str) -> tuple[str, SignalSpec]:
    pattern = Pattern(name, RED, (LONG, 0.5), repeat=1, lead=2 * LEAD, beeps=(LONG_BEEP,))
    return name, SignalSpec(pattern, "refused", "refused", meaning)


SIGNALS: dict[str, SignalSpec] = dict([
    _state("idle", WHITE, (0.1, 1.9), "waiting for a wristband"),
    _state("needs_consent", AMBER, (0.1, 0.15, 0.1, 1.15),
           "patient identified, show a consent card"),
    _state("ready", GREEN, (), "ready: press the button to take a photo"),
    _state("capturing", DARK, (), "taking the photo (dark for an instant)"),
    _accept("patient_identified", GREEN, 3, 2, "wristband accepted"),
    _accept("session_switched", CYAN, 3, 3, "a different wristband: the last patient's "
            "session ended, this patient's started (set consent again)"),
    _accept("operator_identified", PURPLE, 2, 1, "staff badge accepted"),
    _accept("tag_set", BLUE, 2, 1, "card accepted (consent, body site, side)"),
    _accept("captured", BLUE, 1, 1, "photo taken, sealed and queued"),
    _accept("page_added", BLUE, 1, 1, "document page taken and kept"),
    _accept("document_closed", BLUE, 3, 2, "document gathered into one PDF, sealed and queued"),
    _accept("session_ended", WHITE, 3, 1, "session ended"),
    _fix_it("no_patient", 1, "show the wristband", "refused: no patient yet, show the "
            "wristband"),
    _fix_it("rescan_needed", 1, "show the wristband", "refused: show the wristband again, "
            "its last read is too old"),
    _fix_it("no_consent", 2, "show a consent card", "refused: no consent yet, show a "
            "consent card"),
    _fix_it("no_operator", 3, "show your staff badge", "refused: no operator, show your "
            "staff badge"),
    _fix_it("page_refused", 4, "retake the page", "refused: no page found in the photo, "
            "nothing kept; retake the page"),
    _refuse("conflict", "refused: two different wristbands in view, show one at a time"),
    _refuse("invalid_read", "refused: barcode not accepted (bad check digit, unknown card)"),
    _refuse("override_disabled", "refused: emergency override is not enabled here"),
    _refuse("busy", "refused: still busy with the previous photo"),
    _refuse("camera_fault", "refused: camera fault (keeps blinking long until fixed)"),
    _refuse("disk_full", "refused: disk full (keeps blinking long until fixed)"),
    _refuse("not_enrolled", "refused: station not enrolled (keeps blinking long until fixed)"),
    _refuse("storage_fault", "refused: the photo could not be stored (see the status page)"),
])

# When health is bad the steady state repeats the error's long light forever.
HEALTH_SIGNALS = ("camera_fault", "disk_full", "not_enrolled")


def pattern_for(name: str, *, steady: bool = False) -> Pattern:
    """The pattern for signal ``name``; health errors loop (silently) as a steady state."""
    spec = SIGNALS[name]
    if steady and name in HEALTH_SIGNALS:
        p = spec.pattern
        return Pattern(p.name, p.color, (LONG, 1.0), None)
    return spec.pattern


def describe_light(p: Pattern) -> str:
    """What a single LED does, in words and seconds."""
    if p.is_dark:
        return "off"
    if p.is_steady:
        return "steady"
    lit = p.lit_seconds()
    if p.repeat is None:
        flashes = f"{len(lit)} x {lit[0]:g}s" if len(lit) > 1 else f"{lit[0]:g}s"
        return f"repeating: {flashes} lit every {sum(p.rhythm):g}s"
    if len(lit) == 1:
        return f"{lit[0]:g}s on"
    return f"{len(lit)} x {lit[0]:g}s on / {p.rhythm[1]:g}s off"


def describe_sound(p: Pattern) -> str:
    beeps = p.beep_seconds()
    if not beeps:
        return ""
    return f"{len(beeps)} x {beeps[0]:g}s beep" if len(beeps) > 1 else f"{beeps[0]:g}s beep"


def render_families() -> str:
    rows = ["| family | light | buzzer | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| {f.name} | {f.light} | {f.sound} | {f.meaning} |" for f in FAMILIES.values()]
    return "\n".join(rows)


def render_table() -> str:
    """The Markdown table in docs/workflow.md: the families, then every signal."""
    rows = ["| signal | family | single LED | RGB colour | buzzer | meaning |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, spec in SIGNALS.items():
        p = spec.pattern
        rows.append(f"| `{name}` | {spec.family} | {describe_light(p)} | "
                    f"{COLOUR_NAMES[p.color]} | {describe_sound(p)} | {spec.meaning} |")
    return render_families() + "\n\n" + "\n".join(rows)


@dataclass(frozen=True)
class LegendEntry:
    """One line of the printed legend card: a representative pattern and short words."""

    pattern: Pattern
    meaning: str
    sound: str


def legend_entries(leave_out: frozenset[str] = frozenset()) -> list[LegendEntry]:
    """What the legend card shows, from the table: the steady states, one line per family,
    and one per thing-to-show of the refusals a nurse fixes herself, except the signals in
    ``leave_out`` (those this station never shows)."""
    entries = [LegendEntry(s.pattern, s.meaning, "") for s in SIGNALS.values()
               if s.outcome == "state" and not s.pattern.is_dark]
    accepted = next(s for s in SIGNALS.values() if s.family == "accepted")
    entries.append(LegendEntry(accepted.pattern, "ACCEPTED: carry on (colour says what)",
                               FAMILIES["accepted"].sound))
    by_count: dict[int, SignalSpec] = {}
    for spec in SIGNALS.values():
        if spec.family == "fix" and spec.pattern.name not in leave_out:
            by_count.setdefault(len(spec.pattern.lit_seconds()), spec)
    for count, spec in sorted(by_count.items()):
        entries.append(LegendEntry(spec.pattern, f"REFUSED: {spec.action}",
                                   "one long beep" if count == 1 else f"{count} long beeps"))
    refused = next(s for s in SIGNALS.values() if s.family == "refused")
    entries.append(LegendEntry(refused.pattern, "REFUSED: not accepted, try again",
                               FAMILIES["refused"].sound))
    entries.append(LegendEntry(pattern_for(HEALTH_SIGNALS[0], steady=True),
                               "STATION FAULT: see the status page", "silent, until fixed"))
    return entries
