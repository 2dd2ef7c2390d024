"""target_concurrency: executors for a backlog, between 1 and max_concurrency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.worker.scaling import next_prefetch, target_concurrency


@pytest.mark.parametrize(
    ("backlog", "max_concurrency", "scaling_threshold", "expected"),
    [
        (0, 10, 1, 1),  # never below one executor, even with nothing to do
        (1, 10, 1, 1),
        (5, 10, 1, 5),  # one executor per waiting job
        (10, 10, 1, 10),
        (11, 10, 1, 10),  # capped at max_concurrency
        (10_000, 10, 1, 10),
        (3, 10, 4, 1),  # backlog // threshold rounds down ...
        (7, 10, 4, 1),
        (8, 10, 4, 2),  # ... one more executor per full threshold of backlog
        (39, 10, 4, 9),
        (40, 10, 4, 10),
        (41, 10, 4, 10),
        (100, 1, 1, 1),  # a single-executor worker stays at one
        (0, 1, 5, 1),
        (-3, 10, 1, 1),  # a nonsensical negative backlog still yields the minimum
    ],
)
def test_target_follows_the_formula(
    backlog: int, max_concurrency: int, scaling_threshold: int, expected: int
) -> None:
    assert (
        target_concurrency(
            backlog, max_concurrency=max_concurrency, scaling_threshold=scaling_threshold
        )
        == expected
    )


@pytest.mark.parametrize("max_concurrency", [0, -1])
def test_max_concurrency_below_one_is_refused(max_concurrency: int) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        target_concurrency(5, max_concurrency=max_concurrency, scaling_threshold=1)


@pytest.mark.parametrize("scaling_threshold", [0, -2])
def test_scaling_threshold_below_one_is_refused(scaling_threshold: int) -> None:
    with pytest.raises(ValueError, match="scaling_threshold must be at least 1"):
        target_concurrency(5, max_concurrency=10, scaling_threshold=scaling_threshold)


@given(
    backlog=st.integers(min_value=0, max_value=100_000),
    max_concurrency=st.integers(min_value=1, max_value=1_000),
    scaling_threshold=st.integers(min_value=1, max_value=1_000),
)
def test_target_is_bounded_and_matches_the_design(
    backlog: int, max_concurrency: int, scaling_threshold: int
) -> None:
    target = target_concurrency(
        backlog, max_concurrency=max_concurrency, scaling_threshold=scaling_threshold
    )
    assert 1 <= target <= max_concurrency
    assert target == min(max_concurrency, max(1, backlog // scaling_threshold))
    more = target_concurrency(
        backlog + 1, max_concurrency=max_concurrency, scaling_threshold=scaling_threshold
    )
    assert target <= more <= target + 1, "one more waiting job adds at most one executor"


def test_prefetch_covers_twice_the_runs_that_end_during_a_claim() -> None:
    # 10,000 runs a second end 10 during a 1 ms claim; 20 kept ready cover it twice.
    assert prefetch(0, rate=10_000, claim=0.001) == 20


def test_no_prefetch_for_jobs_that_outlast_a_round_trip() -> None:
    # 10 slots of one-second jobs: 0.02 runs end during a 1 ms claim.
    assert prefetch(0, rate=10, claim=0.001) == 0


def test_prefetch_halves_after_a_claim_that_needed_none() -> None:
    assert prefetch(40, rate=0, claim=0.001) == 20
    assert prefetch(1, rate=0, claim=0.001) == 0


def test_prefetch_is_capped_and_can_be_turned_off() -> None:
    assert prefetch(0, rate=1e6, claim=0.001) == 100
    assert prefetch(90, rate=1e6, claim=0.001, cap=0) == 0
    with pytest.raises(ValueError, match="negative"):
        prefetch(0, rate=1, claim=0.001, cap=-1)


@given(
    previous=st.integers(min_value=0, max_value=1000),
    rate=st.floats(min_value=0, max_value=1e6),
    claim=st.floats(min_value=0, max_value=10),
    cap=st.integers(min_value=0, max_value=1000),
)
def test_prefetch_stays_within_its_cap(previous: int, rate: float, claim: float, cap: int) -> None:
    assert 0 <= prefetch(previous, rate=rate, claim=claim, cap=cap) <= cap


def prefetch(previous: int, *, rate: float, claim: float, cap: int = 100) -> int:
    return next_prefetch(previous, ended_per_second=rate, claim_seconds=claim, max_prefetch=cap)
