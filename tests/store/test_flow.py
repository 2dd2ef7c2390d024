"""Conformance: the flow claim - concurrency per key, rate-limit tokens, fairness."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from conveyor.job import JobState
from conveyor.store.base import Store
from tests.store.helpers import NOW, claim, complete, insert, new_job


def keyed(key: str, limit: int = 1, **more: Any) -> Any:
    return new_job(concurrency_key=key, concurrency_limit=limit, **more)


def rated(key: str = "mail", rate: float = 1.0, burst: float = 2.0, **more: Any) -> Any:
    return new_job(rate_key=key, rate_per_second=rate, rate_burst=burst, **more)


async def test_at_most_limit_jobs_of_one_concurrency_key_run(store: Store) -> None:
    await insert(store, *(keyed("t1") for _ in range(3)), *(keyed("t2", 2) for _ in range(3)))

    first = await claim(store, limit=10)
    second = await claim(store, limit=10)

    assert Counter(j.concurrency_key for j in first) == {"t1": 1, "t2": 2}
    assert second == []
    await store.ack_jobs(acks=[complete(first[0])], now=NOW)
    third = await claim(store, limit=10)
    assert [j.concurrency_key for j in third] == [first[0].concurrency_key]


async def test_a_job_held_back_by_a_limit_counts_no_attempt(store: Store) -> None:
    _, waiting = await insert(store, keyed("t1"), keyed("t1"))

    await claim(store)

    held = await store.get_job(job_id=waiting.id)
    assert (held.state, held.attempt) == (JobState.AVAILABLE, 0)


async def test_rate_tokens_refill_over_time_up_to_the_burst(store: Store) -> None:
    await insert(store, *(rated() for _ in range(8)))

    at_start = await claim(store, limit=10)
    same_moment = await claim(store, limit=10)
    one_second = await claim(store, limit=10, now=NOW + timedelta(seconds=1))
    long_idle = await claim(store, limit=10, now=NOW + timedelta(seconds=60))

    assert [len(at_start), len(same_moment), len(one_second), len(long_idle)] == [2, 0, 1, 2]
    bucket = await store.rate_bucket(key="mail")
    assert bucket is not None and bucket.tokens == 0.0 and bucket.burst == 2.0


async def test_each_rate_key_has_its_own_bucket(store: Store) -> None:
    await insert(store, *(rated("a") for _ in range(3)), *(rated("b") for _ in range(3)))

    claimed = await claim(store, limit=10)

    assert Counter(j.rate_key for j in claimed) == {"a": 2, "b": 2}


async def test_claims_interleave_fairness_keys(store: Store) -> None:
    await insert(store, *(new_job(fairness_key="big") for _ in range(50)))
    await insert(store, *(new_job(fairness_key="small") for _ in range(3)))

    claimed = await claim(store, limit=6)

    assert Counter(j.fairness_key for j in claimed) == {"big": 3, "small": 3}


async def test_plain_and_flow_jobs_are_claimed_together(store: Store) -> None:
    await insert(store, new_job(), keyed("t1"), keyed("t1"), new_job())

    claimed = await claim(store, limit=10)

    assert Counter(j.concurrency_key for j in claimed) == {None: 2, "t1": 1}


async def test_a_claim_filled_by_plain_jobs_leaves_the_flow_jobs_waiting(store: Store) -> None:
    """The flow probe travels with the plain claim; a full batch must not act on it."""
    await insert(store, keyed("t1"), new_job(), new_job())

    full = await claim(store, limit=2)
    rest = await claim(store, limit=2)

    assert [j.concurrency_key for j in full] == [None, None]
    assert [j.concurrency_key for j in rest] == ["t1"]


async def test_concurrent_claimers_never_exceed_a_concurrency_limit(store: Store) -> None:
    await insert(store, *(keyed(f"t{n % 4}", 2) for n in range(40)))

    rounds = await asyncio.gather(*(claim(store, limit=5, worker_id=f"w{n}") for n in range(6)))

    running = Counter(j.concurrency_key for batch in rounds for j in batch)
    assert running == {"t0": 2, "t1": 2, "t2": 2, "t3": 2}


async def test_fairness_holds_among_jobs_sharing_a_concurrency_key(store: Store) -> None:
    """The small tenant's jobs are not ranked behind the whole of the big tenant's backlog
    for their shared key's slots: the claim ranks only what it could take."""
    await insert(store, *(keyed("mail", 20, fairness_key="big") for _ in range(50)))
    await insert(store, *(keyed("mail", 20, fairness_key="small") for _ in range(3)))

    claimed = await claim(store, limit=6)
    rest = await claim(store, limit=100)

    assert Counter(j.fairness_key for j in claimed) == {"big": 3, "small": 3}
    assert len(claimed) + len(rest) == 20  # the key's limit holds across both tenants
