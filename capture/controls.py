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
    """One LED (and buzzer) signal.

    ``color`` is used by an RGB LED (a single LED lights for any non-black colour); a steady
    light when ``on_time`` is None, otherwise blinking ``repeat`` times (None: until the next
    signal). ``beeps`` short beeps are sounded when a buzzer is fitted.
    """

    name: str
    color: tuple[int, int, int] = (1, 1, 1)
    on_time: float | None = None
    off_time: float = 0.0
    repeat: int | None = None
    beeps: int = 0
    beep_seconds: float = 0.08

    @property
    def is_dark(self) -> bool:
        return self.color == (0, 0, 0)


OFF = Pattern("off", color=(0, 0, 0))


class StatusLight:
    """A single LED or an RGB LED, plus an optional buzzer, that shows :class:`Pattern` s."""

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
        self.pattern: Pattern = OFF
        self._led.off()

    @property
    def has_buzzer(self) -> bool:
        return self._buzzer is not None

    @property
    def is_lit(self) -> bool:
        return bool(self._led.is_lit)

    def show(self, pattern: Pattern) -> None:
        """Replace whatever is showing with ``pattern`` (returns at once; blinking runs in the
        background)."""
        with self._lock:
            self.pattern = pattern
            led = self._led
            if pattern.is_dark:
                led.off()
            elif self.kind == "rgb":
                if pattern.on_time is None:
                    led.color = pattern.color
                else:
                    led.blink(
                        on_time=pattern.on_time,
                        off_time=pattern.off_time,
                        on_color=pattern.color,
                        n=pattern.repeat,
                        background=True,
                    )
            elif pattern.on_time is None:
                led.on()
            else:
                led.blink(
                    on_time=pattern.on_time,
                    off_time=pattern.off_time,
                    n=pattern.repeat,
                    background=True,
                )
            if self._buzzer is not None and pattern.beeps:
                self._buzzer.beep(
                    on_time=pattern.beep_seconds,
                    off_time=pattern.beep_seconds,
                    n=pattern.beeps,
                    background=True,
                )

    def close(self) -> None:
        self._led.close()
        if self._buzzer is not None:
            self._buzzer.close()

    def __enter__(self) -> StatusLight:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
