"""Conformance: pruning finished history."""

from __future__ import annotations

from datetime import timedelta

from conveyor.job import JobState
from conveyor.store.base import JobFilter, Store
from tests.store.helpers import NOW, complete, counts, fail, insert_and_claim, make_states, new_job


async def test_prune_deletes_only_final_jobs_finished_before_cutoff(store: Store) -> None:
    jobs = await make_states(store)  # final ones finished at NOW

    pruned = await store.prune_finished(before=NOW + timedelta(seconds=1), limit=100)

    assert pruned == 3
    remaining = await store.list_jobs(filter=JobFilter(), after=None, limit=100)
    assert {j.state for j in remaining.jobs} == {
        JobState.SCHEDULED,
        JobState.AVAILABLE,
        JobState.RUNNING,
        JobState.RETRYING,
    }
    assert {j.id for j in remaining.jobs} == {
        jobs[s].id
        for s in (JobState.SCHEDULED, JobState.AVAILABLE, JobState.RUNNING, JobState.RETRYING)
    }


async def test_prune_keeps_jobs_finished_at_or_after_cutoff(store: Store) -> None:
    old, edge, recent = await insert_and_claim(store, new_job(), new_job(), new_job())
    await store.ack_jobs(acks=[complete(old)], now=NOW)
    await store.ack_jobs(acks=[fail(edge)], now=NOW + timedelta(hours=1))
    await store.ack_jobs(acks=[complete(recent)], now=NOW + timedelta(hours=2))

    pruned = await store.prune_finished(before=NOW + timedelta(hours=1), limit=100)

    assert pruned == 1
    remaining = await store.list_jobs(filter=JobFilter(), after=None, limit=100)
    assert sorted(j.id for j in remaining.jobs) == sorted([edge.id, recent.id])


async def test_prune_respects_limit_and_returns_count(store: Store) -> None:
    jobs = await insert_and_claim(store, *(new_job() for _ in range(5)))
    await store.ack_jobs(acks=[complete(j) for j in jobs], now=NOW)
    cutoff = NOW + timedelta(days=1)

    first = await store.prune_finished(before=cutoff, limit=2)
    second = await store.prune_finished(before=cutoff, limit=2)
    third = await store.prune_finished(before=cutoff, limit=2)
    fourth = await store.prune_finished(before=cutoff, limit=2)

    assert [first, second, third, fourth] == [2, 2, 1, 0]
    assert await store.count_jobs() == []


async def test_prune_takes_the_oldest_finished_jobs_first(store: Store) -> None:
    newer, older = await insert_and_claim(store, new_job(), new_job())
    await store.ack_jobs(acks=[complete(older)], now=NOW)
    await store.ack_jobs(acks=[complete(newer)], now=NOW + timedelta(minutes=1))

    assert await store.prune_finished(before=NOW + timedelta(days=1), limit=1) == 1

    remaining = await store.list_jobs(filter=JobFilter(), after=None, limit=10)
    assert [j.id for j in remaining.jobs] == [newer.id]


async def test_prune_with_nothing_finished_deletes_nothing(store: Store) -> None:
    await insert_and_claim(store, new_job(), new_job())
    await store.insert_jobs(jobs=[new_job()], now=NOW)
    before = await counts(store)

    assert await store.prune_finished(before=NOW + timedelta(days=365), limit=100) == 0
    assert await counts(store) == before
