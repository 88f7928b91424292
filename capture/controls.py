"""The capture button, the status LED and the optional buzzer, as gpiozero devices.

Every device takes an injected ``pin_factory`` (gpiozero's own ``MockFactory`` in tests and the
demo, lgpio on a Pi), so the same code runs everywhere and tests use the library's own tools.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import LED, RGBLED, Button, Buzzer

Callback = Callable[[], None]

PIN_FACTORIES = ("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")


def make_pin_factory(name: str) -> Any:
    """The gpiozero pin factory called ``name``; ``None`` for 'auto' (gpiozero's own choice)."""
    if name == "auto":
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory

        return PiGPIOFactory()
    if name == "native":
        from gpiozero.pins.native import NativeFactory

        return NativeFactory()
    raise ValueError(f"unknown pin factory {name!r}; expected one of {PIN_FACTORIES}")


class CaptureButton:
    """The one button a gloved nurse presses.

    A *click* (pressed, then released before ``hold_seconds``) takes a photo; a *hold* ends the
    session. A click fires on release so that a hold never also takes a photo. Contact bounce
    is absorbed twice: by the pin driver's ``bounce_time`` where it supports it, and here, since
    not every pin factory does: a contact shorter than ``bounce_seconds`` is chatter, not a
    click.
    """

    def __init__(
        self,
        pin: int,
        *,
        hold_seconds: float = 2.0,
        bounce_seconds: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        self._button = Button(
            pin,
            pull_up=True,
            bounce_time=bounce_seconds or None,
            hold_time=hold_seconds,
            pin_factory=pin_factory,
        )
        self._held = False
        self._pressed_at: float | None = None
        self._min_press = bounce_seconds or 0.0
        self.when_clicked: Callback | None = None
        self.when_held: Callback | None = None
        self._button.when_pressed = self._on_press
        self._button.when_held = self._on_hold
        self._button.when_released = self._on_release

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    @property
    def pin(self) -> Any:
        return self._button.pin

    def _on_press(self) -> None:
        self._held = False
        self._pressed_at = time.monotonic()

    def _on_hold(self) -> None:
        self._held = True
        if self.when_held:
            self.when_held()

    def _on_release(self) -> None:
        pressed_at, self._pressed_at = self._pressed_at, None
        real_press = pressed_at is not None and (
            time.monotonic() - pressed_at >= self._min_press)
        if real_press and not self._held and self.when_clicked:
            self.when_clicked()
        self._held = False

    def close(self) -> None:
        self._button.close()

    def __enter__(self) -> CaptureButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Pattern:
    """One LED (and buzzer) signal, as a rhythm rather than a count.

    ``rhythm`` alternates lit and dark seconds, starting lit; an empty rhythm is a steady light
    (or darkness when ``color`` is black). It plays ``repeat`` times (None: until the next
    signal), after ``lead`` seconds of darkness: a transient signal stands out from a steady
    light because it always begins by going dark. ``color`` is used by an RGB LED (a single LED
    lights for any non-black colour). ``beeps`` alternates sounding and silent seconds for the
    buzzer, played once, starting after ``lead`` too, so a beep and its light coincide.
    """

    name: str
    color: tuple[int, int, int] = (1, 1, 1)
    rhythm: tuple[float, ...] = ()
    repeat: int | None = None
    lead: float = 0.0
    beeps: tuple[float, ...] = ()

    @property
    def is_dark(self) -> bool:
        return self.color == (0, 0, 0)

    @property
    def is_steady(self) -> bool:
        return not self.rhythm

    def timeline(self) -> list[tuple[bool, float]]:
        """One play of the light as ``(lit, seconds)`` segments, lead included; a repeating
        pattern loops its rhythm after this. Steady and dark patterns have no timeline."""
        if self.is_dark or self.is_steady:
            return []
        segments = [(False, self.lead)] if self.lead else []
        one = [(i % 2 == 0, seconds) for i, seconds in enumerate(self.rhythm) if seconds]
        return segments + one * (self.repeat or 1)

    def lit_seconds(self) -> list[float]:
        """How long each flash or pulse of one play stays lit (what a single LED shows)."""
        return [seconds for lit, seconds in self.timeline() if lit]

    def beep_seconds(self) -> list[float]:
        """How long each beep sounds."""
        return [seconds for i, seconds in enumerate(self.beeps) if i % 2 == 0 and seconds]

    @property
    def seconds(self) -> float:
        """How long one play lasts (light or buzzer, whichever ends later)."""
        light = sum(seconds for _, seconds in self.timeline())
        return max(light, self.lead + sum(self.beeps))


OFF = Pattern("off", color=(0, 0, 0))


class StatusLight:
    """A single LED or an RGB LED, plus an optional buzzer, that shows :class:`Pattern` s.

    Rhythms are played by one background thread per pattern (gpiozero's ``blink`` only knows
    equal flashes without a lead); showing a new pattern stops the old one first, so two
    patterns never fight over the pins.
    """

    def __init__(
        self,
        *,
        kind: str = "single",
        pin: int = 27,
        rgb_pins: tuple[int, int, int] = (22, 23, 24),
        active_high: bool = True,
        buzzer_pin: int | None = None,
        pin_factory: Any = None,
    ) -> None:
        if kind == "single":
            self._led: Any = LED(pin, active_high=active_high, pin_factory=pin_factory)
        elif kind == "rgb":
            red, green, blue = rgb_pins
            self._led = RGBLED(
                red, green, blue, active_high=active_high, pwm=False, pin_factory=pin_factory
            )
        else:
            raise ValueError(f"unknown LED kind {kind!r}; expected 'single' or 'rgb'")
        self.kind = kind
        self._buzzer = (
            Buzzer(buzzer_pin, pin_factory=pin_factory) if buzzer_pin is not None else None
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._player: threading.Thread | None = None
        self.pattern: Pattern = OFF
        self._led.off()

    @property
    def has_buzzer(self) -> bool:
        return self._buzzer is not None

    @property
    def is_lit(self) -> bool:
        return bool(self._led.is_lit)

    def _light(self, pattern: Pattern, lit: bool) -> None:
        if not lit or pattern.is_dark:
            self._led.off()
        elif self.kind == "rgb":
            self._led.color = pattern.color
        else:
            self._led.on()

    def _sound(self, on: bool) -> None:
        if self._buzzer is not None:
            if on:
                self._buzzer.on()
            else:
                self._buzzer.off()

    def _halt(self) -> None:
        """Stop the pattern playing now (called with the lock held)."""
        self._stop.set()
        if self._player is not None and self._player is not threading.current_thread():
            self._player.join()
        self._player = None
        self._stop = threading.Event()
        self._sound(False)

    def show(self, pattern: Pattern) -> None:
        """Replace whatever is showing with ``pattern`` (returns at once; rhythms play in the
        background)."""
        with self._lock:
            self._halt()
            self.pattern = pattern
            if pattern.is_steady and not pattern.beeps:
                self._light(pattern, True)
                return
            if pattern.is_steady:
                self._light(pattern, True)
            self._player = threading.Thread(target=self._play, args=(pattern, self._stop),
                                            name=f"light-{pattern.name}", daemon=True)
            self._player.start()

    def _play(self, pattern: Pattern, stop: threading.Event) -> None:
        """Drive the LED and buzzer through ``pattern``'s timeline until done or stopped."""
        events: list[tuple[float, Callable[[], None]]] = []
        at = 0.0
        for lit, seconds in pattern.timeline():
            events.append((at, lambda lit=lit: self._light(pattern, lit)))
            at += seconds
        light_end = at
        at = pattern.lead
        for i, seconds in enumerate(pattern.beeps):
            events.append((at, lambda on=(i % 2 == 0): self._sound(on)))
            at += seconds
        if pattern.beeps:
            events.append((at, lambda: self._sound(False)))
        events.sort(key=lambda event: event[0])
        start = time.monotonic()
        for at, action in events:
            if stop.wait(max(0.0, start + at - time.monotonic())):
                return
            action()
        if pattern.is_steady:
            return
        if pattern.repeat is None:  # loop the rhythm (without its lead) until the next pattern
            loop = [(i % 2 == 0, s) for i, s in enumerate(pattern.rhythm) if s]
            wait = max(0.0, start + light_end - time.monotonic())
            while not stop.wait(wait):
                for lit, seconds in loop:
                    self._light(pattern, lit)
                    if stop.wait(seconds):
                        return
                wait = 0.0
            return
        if not stop.wait(max(0.0, start + light_end - time.monotonic())):
            self._light(pattern, False)

    def close(self) -> None:
        with self._lock:
            self._halt()
        self._led.close()
        if self._buzzer is not None:
            self._buzzer.close()

    def __enter__(self) -> StatusLight:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
