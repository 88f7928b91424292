"""The sign-in throttle: locks per (account, address) and per address; an account's failures
elsewhere only slow a new address, never lock it; all forgotten after a day."""

from __future__ import annotations

from websecurity.throttle import ACCOUNT_MAX_DELAY, LoginThrottle

from .fakes import FakeClock


def test_five_free_failures_then_doubling_waits_for_that_account_from_that_address():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        assert throttle.failure("nina", "10.0.0.1") == 0
        assert throttle.retry_after("nina", "10.0.0.1") == 0
    waits = [throttle.failure("nina", "10.0.0.1")]
    assert waits[0] == 30
    assert throttle.retry_after("nina", "10.0.0.1") == 30
    assert throttle.retry_after("nina", "10.0.0.2") == 0  # same account elsewhere: not locked
    assert throttle.retry_after("rita", "10.0.0.1") == 0  # same address, other name: free
    for _ in range(6):
        clock.advance(waits[-1])
        waits.append(throttle.failure("nina", "10.0.0.1"))
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at 15 minutes
    throttle.success("nina", "10.0.0.1")
    assert throttle.retry_after("nina", "10.0.0.1") == 0
    assert throttle.failures("nina", "10.0.0.1") == 0
    assert throttle.failures(account="nina") == 11  # the account-wide count stays


def test_six_wrong_passwords_from_elsewhere_cost_the_real_user_nothing():
    throttle = LoginThrottle(FakeClock())
    for _ in range(6):
        throttle.failure("nina", "10.0.0.66")
    assert throttle.retry_after("nina", "10.0.0.66") > 0
    assert throttle.retry_after("nina", "10.0.0.1") == 0


def test_failures_from_many_addresses_only_slow_new_addresses_and_never_known_ones():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    throttle.success("nina", "10.0.0.1")  # nina signs in from her station
    for i in range(200):  # a guesser rotating addresses, 1 guess each
        if throttle.retry_after("nina", f"10.1.{i // 250}.{i % 250}") == 0:
            throttle.failure("nina", f"10.1.{i // 250}.{i % 250}")
        clock.advance(1)
    fresh = throttle.retry_after("nina", "10.2.0.1")
    assert 0 < fresh <= ACCOUNT_MAX_DELAY  # slowed, by seconds, not locked
    assert throttle.retry_after("nina", "10.0.0.1") == 0  # the known address is not slowed
    # the slowdown spaced the guesser out: far fewer than 200 guesses got through
    assert throttle.failures(account="nina") < 60


def test_an_address_rotating_names_is_locked():
    throttle = LoginThrottle(FakeClock())
    for i in range(19):
        assert throttle.failure(f"user{i}", "10.9.9.9") == 0
    assert throttle.failure("user19", "10.9.9.9") == 30
    assert throttle.retry_after("adam", "10.9.9.9") == 30
    assert throttle.retry_after("adam", "10.9.9.10") == 0


def test_throttle_forgets_old_failures():
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        throttle.failure("nina", "c")
    clock.advance(25 * 3600)
    assert throttle.failure("nina", "c") == 0
    assert throttle.failures(account="nina") == 1
