"""Reconnect backoff: exponential ceiling, full jitter, a floor so nothing spins."""

from __future__ import annotations

import random

from podwarden.kube.reflector import Backoff


def test_delays_stay_within_the_jittered_exponential_envelope() -> None:
    random.seed(7)
    backoff = Backoff(base=0.2, cap=30.0, floor=0.05)
    for attempt in range(40):
        ceiling = min(30.0, 0.2 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.05 <= d <= max(ceiling, 0.05) for d in delays)
    late = [backoff.delay(20) for _ in range(500)]
    assert max(late) > 20 and min(late) < 10  # jitter spreads reconnecting agents


def test_the_floor_applies_even_at_attempt_zero() -> None:
    backoff = Backoff(base=0.0, cap=1.0, floor=0.05)
    assert {backoff.delay(0) for _ in range(10)} == {0.05}
