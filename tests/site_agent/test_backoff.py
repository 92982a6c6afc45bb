"""Reconnect backoff: exponential, capped near 30 s, jittered so districts do not reconnect in step."""

from __future__ import annotations

import random

from site_agent.client import backoff_delay


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    ceilings = [min(30.0, 0.5 * 2**n) for n in range(12)]
    for attempt, ceiling in enumerate(ceilings):
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(backoff_delay(50, 0.5, 30.0, rng) for _ in range(100)) <= 30.0


def test_backoff_is_jittered() -> None:
    rng = random.Random(1)
    delays = {round(backoff_delay(6, 0.5, 30.0, rng), 3) for _ in range(50)}
    assert len(delays) > 40  # twenty districts after a hub restart spread out
