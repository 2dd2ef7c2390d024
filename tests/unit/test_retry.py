"""RetryPolicy: exponential growth, the ceiling, and jitter bounds."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.retry import RetryPolicy


def test_delay_doubles_per_attempt_without_jitter() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=1), jitter=0)
    delays = [policy.next_delay(n).total_seconds() for n in range(1, 6)]
    assert delays == [1, 2, 4, 8, 16]


def test_delay_never_exceeds_max_delay() -> None:
    policy = RetryPolicy(max_delay=timedelta(minutes=5), jitter=0)
    assert policy.next_delay(50) == timedelta(minutes=5)
    assert policy.next_delay(10_000) == timedelta(minutes=5)


@given(attempt=st.integers(min_value=1, max_value=200), seed=st.integers())
def test_jitter_stays_within_its_fraction(attempt: int, seed: int) -> None:
    policy = RetryPolicy(jitter=0.25)
    plain = RetryPolicy(jitter=0).next_delay(attempt)
    jittered = policy.next_delay(attempt, random.Random(seed))
    assert plain * 0.75 <= jittered <= plain


def test_jitter_spreads_jobs_that_failed_together() -> None:
    policy = RetryPolicy(jitter=0.5)
    rng = random.Random(7)
    assert len({policy.next_delay(3, rng) for _ in range(20)}) > 10


@pytest.mark.parametrize(
    "kwargs",
    [{"factor": 0.5}, {"jitter": 1.5}, {"base_delay": timedelta(seconds=-1)}],
)
def test_invalid_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
