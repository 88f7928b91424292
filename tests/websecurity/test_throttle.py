"""The login throttle: per account and per client, growing waits, forgotten after a day."""

from __future__ import annotations

from websecurity.throttle import LoginThrottle

from .fakes import FakeClock


def test_throttle_five_free_failures_then_doubling_waits():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        assert throttle.failure("nina", "10.0.0.1") == 0
        assert throttle.retry_after("nina", "10.0.0.1") == 0
    waits = [throttle.failure("nina", "10.0.0.1")]
    assert throttle.retry_after("nina", "10.0.0.2") == waits[0]  # same account elsewhere
    assert throttle.retry_after("rita", "10.0.0.1") == waits[0]  # same client, other name
    assert throttle.retry_after("rita", "10.0.0.2") == 0
    for _ in range(6):
        clock.advance(waits[-1])
        waits.append(throttle.failure("nina", "10.0.0.1"))
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at 15 minutes
    throttle.success("nina", "10.0.0.1")
    assert throttle.retry_after("nina", "10.0.0.1") == 0
    assert throttle.failures(account="nina") == 0


def test_throttle_forgets_old_failures():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        throttle.failure("nina", "c")
    clock.advance(25 * 3600)
    assert throttle.failure("nina", "c") == 0
    assert throttle.failures(account="nina") == 1
