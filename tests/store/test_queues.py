"""Conformance: pausing and resuming queues, and listing queues with their counts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from conveyor.job import JobState
from conveyor.queue import QueueInfo
from conveyor.store.base import Store
from tests.store.helpers import NOW, claim, complete, fail, insert, insert_many, new_job


async def _queues(store: Store, now: datetime = NOW) -> dict[str, QueueInfo]:
    return {queue.name: queue for queue in await store.list_queues(now=now)}


async def test_claim_skips_paused_queue(store: Store) -> None:
    [held] = await insert(store, new_job(queue="held", priority=-10))
    [free] = await insert(store, new_job(queue="free"))

    assert await store.pause_queue(queue="held", now=NOW)

    assert [j.id for j in await claim(store, queues=None)] == [free.id]
    assert await claim(store, queues=["held"]) == []
    assert await claim(store, queues=["held", "free"]) == []
    assert (await store.get_job(job_id=held.id)).state is JobState.AVAILABLE


async def test_claim_of_several_queues_takes_the_unpaused_ones(store: Store) -> None:
    a, b, c = await insert(store, new_job(queue="a"), new_job(queue="b"), new_job(queue="c"))
    await store.pause_queue(queue="b", now=NOW)

    claimed = await claim(store, queues=["a", "b", "c"])

    assert sorted(j.id for j in claimed) == [a.id, c.id]
    assert (await store.get_job(job_id=b.id)).state is JobState.AVAILABLE


async def test_claim_skips_due_scheduled_and_retrying_jobs_of_a_paused_queue(store: Store) -> None:
    [retrying] = await insert(store, new_job(queue="held"))
    [running] = await claim(store)
    await store.ack_jobs(acks=[fail(running, retry_at=NOW + timedelta(minutes=1))], now=NOW)
    await insert(store, new_job(queue="held", run_at=NOW + timedelta(minutes=1)))
    await store.pause_queue(queue="held", now=NOW)

    later = NOW + timedelta(minutes=5)
    assert await claim(store, now=later) == []
    assert await claim(store, queues=["held"], now=later) == []
    assert (await store.get_job(job_id=retrying.id)).state is JobState.RETRYING


async def test_claim_skips_flow_controlled_jobs_of_a_paused_queue(store: Store) -> None:
    keyed = {"concurrency_key": "tenant-1", "concurrency_limit": 5, "fairness_key": "tenant-1"}
    [held] = await insert(store, new_job(queue="held", **keyed))
    [free] = await insert(store, new_job(queue="free", **keyed))
    await store.pause_queue(queue="held", now=NOW)

    assert [j.id for j in await claim(store, queues=None)] == [free.id]
    assert await claim(store, queues=["held"]) == []

    await store.resume_queue(queue="held", now=NOW)
    assert [j.id for j in await claim(store, queues=["held"])] == [held.id]


async def test_resume_makes_jobs_claimable(store: Store) -> None:
    jobs = await insert_many(store, 3, queue="held")
    await store.pause_queue(queue="held", now=NOW)
    assert await claim(store) == []

    assert await store.resume_queue(queue="held", now=NOW + timedelta(minutes=1))

    claimed = await claim(store, queues=["held"])
    assert sorted(j.id for j in claimed) == [j.id for j in jobs]


async def test_enqueue_into_paused_queue_is_accepted(store: Store) -> None:
    await store.pause_queue(queue="held", now=NOW)

    [job] = await insert(store, new_job(queue="held"))
    [later] = await insert(store, new_job(queue="held", run_at=NOW + timedelta(hours=1)))

    assert (await store.get_job(job_id=job.id)).state is JobState.AVAILABLE
    assert (await store.get_job(job_id=later.id)).state is JobState.SCHEDULED
    held = (await _queues(store))["held"]
    assert (held.paused, held.available, held.scheduled) == (True, 1, 1)


async def test_pausing_leaves_running_jobs_running_and_their_acks_accepted(store: Store) -> None:
    [job] = await insert(store, new_job(queue="held"))
    [running] = await claim(store)

    await store.pause_queue(queue="held", now=NOW)
    outcome = await store.ack_jobs(acks=[complete(running, "done")], now=NOW)

    assert outcome.acked == [job.id]
    assert (await store.get_job(job_id=job.id)).state is JobState.COMPLETED


async def test_pause_is_idempotent_and_keeps_the_first_paused_at(store: Store) -> None:
    assert await store.pause_queue(queue="held", now=NOW)
    assert not await store.pause_queue(queue="held", now=NOW + timedelta(minutes=1))

    held = (await _queues(store))["held"]
    assert held.paused and held.paused_at == NOW


async def test_resume_of_a_queue_that_is_not_paused_changes_nothing(store: Store) -> None:
    assert not await store.resume_queue(queue="never-paused", now=NOW)
    await store.pause_queue(queue="held", now=NOW)
    assert await store.resume_queue(queue="held", now=NOW)
    assert not await store.resume_queue(queue="held", now=NOW)

    queues = await _queues(store)
    assert "never-paused" not in queues
    assert (queues["held"].paused, queues["held"].paused_at) == (False, None)


async def test_pausing_one_queue_leaves_queues_with_similar_names_alone(store: Store) -> None:
    jobs = await insert(store, new_job(queue="mail"), new_job(queue="Mail"), new_job(queue="mail "))
    await store.pause_queue(queue="mail", now=NOW)

    claimed = await claim(store)

    assert sorted(j.id for j in claimed) == [jobs[1].id, jobs[2].id]


async def test_list_queues_counts_jobs_by_state_with_the_oldest_waiting_age(store: Store) -> None:
    waiting = NOW - timedelta(minutes=10)
    await insert(store, new_job(queue="email", run_at=waiting))
    await insert_many(store, 2, queue="email", run_at=NOW - timedelta(minutes=1))
    await insert(store, new_job(queue="email", run_at=NOW + timedelta(hours=1)))  # scheduled
    await insert_many(store, 4, queue="sync", priority=-1)
    running = await claim(store, queues=["sync"], limit=4)
    await store.ack_jobs(
        acks=[
            complete(running[0]),
            fail(running[1]),
            fail(running[2], retry_at=NOW + timedelta(minutes=5)),
        ],
        now=NOW,
    )

    queues = await store.list_queues(now=NOW)

    assert [q.name for q in queues] == ["email", "sync"]
    email, sync = queues
    assert (email.available, email.scheduled, email.running, email.retrying, email.failed) == (
        3,
        1,
        0,
        0,
        0,
    )
    assert email.oldest_waiting_age == timedelta(minutes=10)
    assert (sync.available, sync.scheduled, sync.running, sync.retrying, sync.failed) == (
        0,
        0,
        1,
        1,
        1,
    )
    assert sync.oldest_waiting_age is None  # the retry is not due yet
    assert not email.paused and not sync.paused
    assert email.paused_at is None


async def test_list_queues_includes_paused_queues_without_jobs_and_omits_finished_ones(
    store: Store,
) -> None:
    [job] = await insert(store, new_job(queue="done"))
    [running] = await claim(store)
    await store.ack_jobs(acks=[complete(running)], now=NOW)
    await store.pause_queue(queue="empty", now=NOW)

    queues = await store.list_queues(now=NOW)

    assert queues == [QueueInfo("empty", True, NOW, 0, 0, 0, 0, 0, None)]
    assert (await store.get_job(job_id=job.id)).state is JobState.COMPLETED


async def test_list_queues_sorts_names_by_code_point_on_every_store(store: Store) -> None:
    for name in ("b", "B", "a", "_x", "Ä"):
        await insert(store, new_job(queue=name))

    assert [q.name for q in await store.list_queues(now=NOW)] == ["B", "_x", "a", "b", "Ä"]


async def test_resume_wakes_the_queues_listeners(store: Store) -> None:
    if not store.capabilities.listen_notify:
        pytest.skip("no cross-process notifications (capabilities.listen_notify)")
    await store.pause_queue(queue="held", now=NOW)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await store.listen(on_notify=heard.put_nowait)
    try:
        await store.resume_queue(queue="held", now=NOW)
        assert await asyncio.wait_for(heard.get(), timeout=10) == "held"
    finally:
        await listener.close()
