"""Button, LED and buzzer driven through gpiozero's own MockFactory."""

import time
from itertools import pairwise

import pytest
from gpiozero.pins.mock import MockFactory

from capture.controls import OFF, CaptureButton, Pattern, StatusLight, make_pin_factory


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_click_fires_on_release(factory):
    clicks, holds = [], []
    with CaptureButton(17, hold_seconds=1.0, bounce_seconds=None, pin_factory=factory) as button:
        button.when_clicked = lambda: clicks.append(1)
        button.when_held = lambda: holds.append(1)
        pin = factory.pin(17)
        pin.drive_low()
        assert button.is_pressed
        assert clicks == []
        time.sleep(0.06)
        pin.drive_high()
        assert wait_for(lambda: clicks == [1])
        assert holds == []


def test_hold_ends_session_and_does_not_click(factory):
    clicks, holds = [], []
    with CaptureButton(17, hold_seconds=0.5, bounce_seconds=None, pin_factory=factory) as button:
        button.when_clicked = lambda: clicks.append(1)
        button.when_held = lambda: holds.append(1)
        pin = factory.pin(17)
        pin.drive_low()
        assert wait_for(lambda: holds == [1])
        pin.drive_high()
        time.sleep(0.05)
    assert clicks == []


def test_bounce_is_absorbed(factory):
    clicks = []
    with CaptureButton(17, bounce_seconds=0.05, pin_factory=factory) as button:
        button.when_clicked = lambda: clicks.append(1)
        pin = factory.pin(17)
        for _ in range(3):  # contact chatter: microsecond contacts are not clicks
            pin.drive_low()
            pin.drive_high()
        assert clicks == []
        pin.drive_low()
        time.sleep(0.1)  # a real press
        pin.drive_high()
        for _ in range(3):  # chatter on release
            pin.drive_low()
            pin.drive_high()
        time.sleep(0.05)
    assert clicks == [1]


def lit_spans(pin):
    """(lit, seconds) for each state the mock pin held (its timestamps count the seconds since
    the previous change)."""
    states = pin.states
    return [(a.state, b.timestamp) for a, b in pairwise(states)]


def test_single_led_patterns(factory):
    with StatusLight(pin=27, pin_factory=factory) as light:
        pin = factory.pin(27)
        pin.clear_states()
        light.show(Pattern("ready"))
        assert light.is_lit
        light.show(OFF)
        assert not light.is_lit
        pin.assert_states([False, True, False])
        pin.clear_states()
        light.show(Pattern("error", rhythm=(0.05, 0.05), repeat=2))
        assert wait_for(lambda: len(pin.states) >= 5)
        time.sleep(0.1)
        pin.assert_states([False, True, False, True, False])


def test_a_transient_starts_dark_even_from_a_steady_light(factory):
    """From a steady light, a signal's first pulse would merge with it: the lead goes dark."""
    with StatusLight(pin=27, pin_factory=factory) as light:
        pin = factory.pin(27)
        light.show(Pattern("ready"))
        pin.clear_states()
        light.show(Pattern("refused", rhythm=(0.3, 0.1), repeat=1, lead=0.15))
        assert wait_for(lambda: len(pin.states) >= 4)
        spans = lit_spans(pin)
        assert [lit for lit, _ in spans[:3]] == [True, False, True]
        assert spans[1][1] >= 0.14  # dark for the lead
        assert spans[2][1] >= 0.29  # then the pulse


def test_a_new_pattern_stops_the_old_rhythm(factory):
    with StatusLight(pin=27, pin_factory=factory) as light:
        light.show(Pattern("blinking", rhythm=(0.02, 0.02)))  # repeats until replaced
        time.sleep(0.1)
        light.show(Pattern("ready"))
        pin = factory.pin(27)
        pin.clear_states()
        time.sleep(0.1)
        assert light.is_lit
        assert len(pin.states) == 1  # nothing toggles it any more


def test_active_low_led(factory):
    with StatusLight(pin=27, active_high=False, pin_factory=factory) as light:
        light.show(Pattern("ready"))
        assert factory.pin(27).state is False  # lit means driven low


def test_rgb_led_shows_colours(factory):
    with StatusLight(kind="rgb", rgb_pins=(22, 23, 24), pin_factory=factory) as light:
        light.show(Pattern("patient", color=(0, 1, 0)))
        assert [factory.pin(p).state for p in (22, 23, 24)] == [False, True, False]
        light.show(Pattern("error", color=(1, 0, 0)))
        assert [factory.pin(p).state for p in (22, 23, 24)] == [True, False, False]
        light.show(OFF)
        assert not any(factory.pin(p).state for p in (22, 23, 24))


def test_buzzer_beeps_when_fitted(factory):
    with StatusLight(pin=27, buzzer_pin=18, pin_factory=factory) as light:
        assert light.has_buzzer
        buzzer = factory.pin(18)
        buzzer.clear_states()
        light.show(Pattern("error", beeps=(0.02, 0.02, 0.02)))
        assert wait_for(lambda: len(buzzer.states) >= 5)
        time.sleep(0.05)
        buzzer.assert_states([False, True, False, True, False])


def test_pin_factories():
    assert make_pin_factory("auto") is None
    mock = make_pin_factory("mock")
    assert isinstance(mock, MockFactory)
    mock.close()
    with pytest.raises(ValueError, match="unknown pin factory"):
        make_pin_factory("gpio-magic")
