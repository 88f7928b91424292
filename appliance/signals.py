"""What the LED (and buzzer) shows for every state and every refusal: the one signal table.

Designed for a busy room and a glance from across it: steady states are slow and calm, success
is a short bright flash, and every refusal is red (RGB) or a distinct number of fast blinks
(single LED), repeated so it cannot be missed, with beeps when a buzzer is fitted. A nurse
counts blinks: 2 no patient, 3 no consent, 4 camera, 5 disk, 6 not enrolled.
The README's signal table is generated from :data:`SIGNALS` (``render_table``).
"""

from __future__ import annotations

from dataclasses import dataclass

from capture.controls import Pattern

GREEN, AMBER, BLUE, RED, CYAN, WHITE, PURPLE = (
    (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 0), (0, 1, 1), (1, 1, 1), (1, 0, 1))


@dataclass(frozen=True)
class SignalSpec:
    pattern: Pattern
    transient: bool  # plays once, then the steady signal of the current state returns
    meaning: str

    @property
    def seconds(self) -> float:
        """How long a transient signal plays before the steady one returns."""
        p = self.pattern
        if p.on_time is None:
            return 1.0
        return (p.repeat or 1) * (p.on_time + p.off_time)


def _blinks(name: str, n: int, meaning: str, beeps: int = 2) -> tuple[str, SignalSpec]:
    return name, SignalSpec(Pattern(name, RED, on_time=0.15, off_time=0.15, repeat=n,
                                    beeps=beeps), True, meaning)


SIGNALS: dict[str, SignalSpec] = dict([
    ("idle", SignalSpec(Pattern("idle", WHITE, on_time=0.1, off_time=1.9), False,
                        "waiting for a wristband (short blink every 2 s)")),
    ("needs_consent", SignalSpec(Pattern("needs_consent", AMBER, on_time=0.5, off_time=0.5),
                                 False, "patient identified, consent not yet set (slow blink)")),
    ("ready", SignalSpec(Pattern("ready", GREEN), False,
                         "patient identified, ready to capture (steady)")),
    ("capturing", SignalSpec(Pattern("capturing", (0, 0, 0)), False,
                             "taking the photo (dark for an instant)")),
    ("patient_identified", SignalSpec(Pattern("patient_identified", GREEN, on_time=0.08,
                                              off_time=0.08, repeat=3, beeps=1), True,
                                      "wristband accepted (3 quick flashes, 1 beep)")),
    ("session_switched", SignalSpec(Pattern("session_switched", CYAN, on_time=0.4,
                                            off_time=0.2, repeat=3, beeps=2), True,
                                    "a different wristband: old session ended, new one "
                                    "started (3 long flashes, 2 beeps)")),
    ("operator_identified", SignalSpec(Pattern("operator_identified", PURPLE, on_time=0.08,
                                               off_time=0.08, repeat=2, beeps=1), True,
                                       "staff badge accepted (2 quick flashes)")),
    ("tag_set", SignalSpec(Pattern("tag_set", BLUE, on_time=0.08, off_time=0.08, repeat=2,
                                   beeps=1), True, "card accepted (2 quick flashes)")),
    ("captured", SignalSpec(Pattern("captured", BLUE, on_time=0.6, off_time=0.1, repeat=1,
                                    beeps=1), True,
                            "photo sealed and queued (one long flash, 1 beep)")),
    ("page_added", SignalSpec(Pattern("page_added", BLUE, on_time=0.3, off_time=0.1, repeat=1,
                                      beeps=1), True,
                              "document page taken and kept (one flash, 1 beep)")),
    ("document_closed", SignalSpec(Pattern("document_closed", BLUE, on_time=0.6, off_time=0.2,
                                           repeat=2, beeps=2), True,
                                   "document gathered into one PDF, sealed and queued "
                                   "(2 long flashes, 2 beeps)")),
    ("session_ended", SignalSpec(Pattern("session_ended", WHITE, on_time=1.0, off_time=0.2,
                                         repeat=1, beeps=1), True,
                                 "session ended (one long flash)")),
    ("busy", SignalSpec(Pattern("busy", AMBER, on_time=0.05, off_time=0.05, repeat=2), True,
                        "still busy with the previous photo")),
    _blinks("no_patient", 2, "refused: no patient identified (2 red blinks)"),
    _blinks("no_consent", 3, "refused: no consent level set (3 red blinks)"),
    _blinks("camera_fault", 4, "refused: camera fault (4 red blinks; steady after)"),
    _blinks("disk_full", 5, "refused: disk full (5 red blinks)"),
    _blinks("not_enrolled", 6, "refused: station not enrolled (6 red blinks)"),
    _blinks("storage_fault", 8, "refused: the photo could not be stored (8 red blinks; "
            "see the journal)"),
    # The same blinks as no_patient: the nurse does the same thing (shows the band).
    _blinks("rescan_needed", 2, "refused: show the wristband again, its last read is too "
            "old (2 red blinks)"),
    _blinks("page_refused", 3, "refused: no page found in the photo, nothing kept "
            "(3 red blinks)"),
    _blinks("no_operator", 7, "refused: no operator (scan your badge; 7 red blinks)"),
    ("conflict", SignalSpec(Pattern("conflict", RED, on_time=0.05, off_time=0.05, repeat=10,
                                    beeps=3), True,
                            "two different wristbands in view: nothing accepted (red flicker)")),
    ("override_disabled", SignalSpec(Pattern("override_disabled", RED, on_time=0.6,
                                             off_time=0.3, repeat=2, beeps=2), True,
                                     "emergency override is not enabled here (2 long red)")),
    ("invalid_read", SignalSpec(Pattern("invalid_read", AMBER, on_time=0.05, off_time=0.1,
                                        repeat=4, beeps=1), True,
                                "barcode not accepted (bad check digit, unknown card)")),
])

# When health is bad the steady state repeats the error pattern forever.
HEALTH_SIGNALS = ("camera_fault", "disk_full", "not_enrolled")


def pattern_for(name: str, *, steady: bool = False) -> Pattern:
    """The pattern for signal ``name``; health errors loop when shown as a steady state."""
    spec = SIGNALS[name]
    if steady and name in HEALTH_SIGNALS:
        p = spec.pattern
        return Pattern(p.name, p.color, p.on_time, p.off_time, None, 0)
    return spec.pattern


def render_table() -> str:
    rows = ["| signal | single LED | RGB colour | buzzer | meaning |",
            "| --- | --- | --- | --- | --- |"]
    for name, spec in SIGNALS.items():
        p = spec.pattern
        if p.is_dark:
            led = "off"
        elif p.on_time is None:
            led = "steady"
        else:
            count = "repeating" if p.repeat is None else f"{p.repeat}x"
            led = f"blink {p.on_time:g}s on / {p.off_time:g}s off, {count}"
        colour = {GREEN: "green", AMBER: "amber", BLUE: "blue", RED: "red", CYAN: "cyan",
                  WHITE: "white", PURPLE: "purple", (0, 0, 0): "off"}[p.color]
        beeps = f"{p.beeps} beep(s)" if p.beeps else ""
        rows.append(f"| `{name}` | {led} | {colour} | {beeps} | {spec.meaning} |")
    return "\n".join(rows)
