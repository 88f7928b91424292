"""The fake set-up's seams: a wall clock a script can step, only with fake camera + mock pins."""

import time

import pytest

from appliance.config import load_config
from appliance.fakerig import SteppableClock, clock_handler, wanted


def test_the_clock_steps_and_stays_stepped_across_a_restart(tmp_path):
    clock = SteppableClock(tmp_path)
    assert abs(clock() - time.time()) < 1
    assert clock_handler(clock)(["-3600"]) == "-3600.000"
    assert abs(clock() - (time.time() - 3600)) < 1
    again = SteppableClock(tmp_path)  # the station restarted: still an hour behind
    assert again.offset == -3600
    with pytest.raises(ValueError):
        clock.step_to(float("nan"))
    (tmp_path / "fake-clock-offset").write_text("inf\n")
    assert SteppableClock(tmp_path).offset == 0.0


@pytest.mark.parametrize(("backend", "pins", "expected"), [
    ("fake", "mock", True), ("fake", "auto", False), ("picamera2", "mock", False)])
def test_only_the_fake_camera_with_mock_pins_gets_the_seams(tmp_path, backend, pins, expected):
    path = tmp_path / "station.toml"
    path.write_text(f'[camera]\nbackend = "{backend}"\n[gpio]\npin_factory = "{pins}"\n')
    assert wanted(load_config(path, environ={})) is expected
