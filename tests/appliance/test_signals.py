"""The signal table: accepted and refused told apart without counting.

The families are declared in code; each signal declares its outcome separately. These tests
hold the two against each other and against the workflow's own list of refusals, and check the
single LED (no colour) and the buzzer tell the outcomes apart by timing alone.
"""

import time
from itertools import pairwise

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.signals import FAMILIES, HEALTH_SIGNALS, SIGNALS, pattern_for, render_table
from appliance.workflow import Refusal
from capture.controls import StatusLight

ACCEPTED = {n: s for n, s in SIGNALS.items() if s.outcome == "accepted"}
REFUSED = {n: s for n, s in SIGNALS.items() if s.outcome == "refused"}
#: The refusals a nurse fixes herself, from the issue: no patient / show the band again, no
#: consent, no operator, page refused.
NURSE_FIXES = {"no_patient", "rescan_needed", "no_consent", "no_operator", "page_refused"}


def test_no_accepted_signal_and_no_refusal_share_a_family():
    accepted_families = {s.family for s in ACCEPTED.values()}
    refused_families = {s.family for s in REFUSED.values()}
    assert accepted_families and refused_families
    assert not accepted_families & refused_families
    states = {s.family for s in SIGNALS.values() if s.outcome == "state"}
    assert not states & (accepted_families | refused_families)


def test_every_refusal_of_the_workflow_is_a_refusal_in_the_table():
    """The outcome is declared per row; the workflow's Refusal list is an independent source."""
    assert {r.value for r in Refusal} | {"page_refused"} == set(REFUSED)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_every_signal_keeps_its_familys_timing_rule(name):
    spec = SIGNALS[name]
    assert spec.family in FAMILIES
    assert FAMILIES[spec.family].fits(spec.pattern), name


def test_the_refusals_a_nurse_fixes_herself_are_their_own_family():
    fix = {n for n, s in SIGNALS.items() if s.family == "fix"}
    assert fix == NURSE_FIXES


def test_the_number_of_pulses_says_what_to_do():
    """Same count, same action; different actions, different counts, and few of them."""
    by_count: dict[int, set[str]] = {}
    for name in NURSE_FIXES:
        spec = SIGNALS[name]
        by_count.setdefault(len(spec.pattern.lit_seconds()), set()).add(spec.action)
    assert all(len(actions) == 1 for actions in by_count.values()), by_count
    assert max(by_count) <= 4


def test_on_a_single_led_every_acceptance_differs_from_every_refusal_in_timing():
    """No colour on a single LED: the longest flash of any acceptance is shorter than a third
    of the shortest light of any refusal, so one glance tells them apart."""
    longest_accepted = max(max(s.pattern.lit_seconds()) for s in ACCEPTED.values())
    shortest_refused = min(min(s.pattern.lit_seconds()) for s in REFUSED.values())
    assert longest_accepted * 3 <= shortest_refused
    # And pairwise: no refusal's light looks like any acceptance's light.
    for a in ACCEPTED.values():
        for r in REFUSED.values():
            assert a.pattern.timeline() != r.pattern.timeline()


def test_every_refusal_has_a_long_beep_and_no_acceptance_does():
    for name, spec in REFUSED.items():
        assert spec.pattern.beep_seconds(), name
        assert min(spec.pattern.beep_seconds()) >= 0.5, name
    for name, spec in ACCEPTED.items():
        assert spec.pattern.beep_seconds(), name
        assert max(spec.pattern.beep_seconds()) <= 0.1, name


def test_every_transient_starts_dark_so_it_stands_out_from_a_steady_light():
    for name, spec in SIGNALS.items():
        if spec.transient:
            assert spec.pattern.timeline()[0][0] is False, name


def test_refusals_stay_brief_enough_to_show_the_state_again():
    assert all(s.seconds <= 5.0 for s in SIGNALS.values())
    assert SIGNALS["no_patient"].seconds < 2.0


def test_steady_states_are_not_mistaken_for_a_refusal():
    """The consent-waiting state blinks short, unlike the slow pulses of "show a card"."""
    for spec in SIGNALS.values():
        if spec.outcome == "state":
            assert all(s <= 0.15 for s in spec.pattern.lit_seconds())


def test_health_faults_loop_their_long_light_silently():
    for name in HEALTH_SIGNALS:
        steady = pattern_for(name, steady=True)
        assert steady.repeat is None and not steady.beeps
        assert steady.lit_seconds() == SIGNALS[name].pattern.lit_seconds()


def test_the_table_names_every_signal_and_family():
    table = render_table()
    for name, spec in SIGNALS.items():
        assert f"| `{name}` | {spec.family} |" in table
    for family in FAMILIES:
        assert f"| {family} |" in table


def played(name):
    """What the mock LED and buzzer pins did for signal ``name``: seconds lit, seconds
    sounding (a mock pin's timestamps count the seconds since its previous change)."""
    factory = MockFactory()
    try:
        with StatusLight(pin=27, buzzer_pin=18, pin_factory=factory) as light:
            led, buzzer = factory.pin(27), factory.pin(18)
            light.show(SIGNALS["ready"].pattern)  # from a steady light, the hardest case
            for pin in (led, buzzer):
                pin.clear_states()
            pattern = SIGNALS[name].pattern
            light.show(pattern)
            time.sleep(pattern.seconds + 0.2)
            lit = [b.timestamp for a, b in pairwise(led.states) if a.state]
            sounding = [b.timestamp for a, b in pairwise(buzzer.states) if a.state]
            return lit[1:], sounding  # lit[0]: the steady light before the signal
    finally:
        factory.reset()


def test_on_the_pins_a_refusal_is_long_light_and_long_tone_an_acceptance_quick_flashes():
    lit, sounding = played("no_consent")
    assert len(lit) == 2 and min(lit) >= 0.55
    assert len(sounding) == 2 and min(sounding) >= 0.55
    lit, sounding = played("patient_identified")
    assert len(lit) == 3 and max(lit) < 0.55  # generous: a loaded machine sleeps late
    assert len(sounding) == 2 and max(sounding) < 0.55


@pytest.mark.parametrize(("toml", "sounds"), [
    ("", True),  # the README's wiring: a buzzer on GPIO 18 sounds unless told otherwise
    ("[gpio]\nbuzzer_pin = 5\n", True),
    ("[gpio]\nbuzzer = false\n", False),
])
def test_the_buzzer_is_on_by_default_when_one_is_fitted(tmp_path, toml, sounds):
    from appliance.config import load_config
    from appliance.hardware import build_light

    path = tmp_path / "station.toml"
    path.write_text(toml)
    factory = MockFactory()
    try:
        with build_light(load_config(path, environ={}), factory) as light:
            assert light.has_buzzer is sounds
    finally:
        factory.reset()


def test_a_pin_shared_with_the_default_buzzer_says_how_to_go_without_one(tmp_path):
    from appliance.config import ConfigError, load_config

    path = tmp_path / "station.toml"
    path.write_text("[gpio]\nled_pin = 18\n")
    with pytest.raises(ConfigError, match="set buzzer = false if no buzzer is fitted"):
        load_config(path, environ={})
    path.write_text("[gpio]\nled_pin = 18\nbuzzer = false\n")
    assert load_config(path, environ={}).gpio.led_pin == 18
