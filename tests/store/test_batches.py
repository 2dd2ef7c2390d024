"""Conformance: batches - counters kept by the store, exactly one callback, cancel, keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conveyor.batches import Batch, Callback, NewBatch
from conveyor.errors import BatchNotFound
from conveyor.job import JobState
from conveyor.store.base import JobFilter, Store
from tests.store.helpers import NOW, TTL, claim, complete, fail, insert, list_all, new_job

LATER = NOW + timedelta(seconds=5)
CALLBACK = Callback(task="campaign_done", queue="email", payload={"campaign": 7})


async def make_batch(store: Store, size: int, **batch: object) -> Batch:
    created, is_new = await store.insert_batch(
        batch=NewBatch(**batch),  # type: ignore[arg-type]
        jobs=[new_job(payload={"n": n}) for n in range(size)],
        now=NOW,
    )
    assert is_new
    return created


async def callbacks(store: Store) -> list[dict[str, object]]:
    jobs = await list_all(store, JobFilter(tasks=["campaign_done"]))
    return [j.payload for j in jobs]


async def test_a_batch_and_its_children_are_created_together(store: Store) -> None:
    batch = await make_batch(store, 3, callback=CALLBACK)

    page = await store.list_batch_jobs(batch_id=batch.id, states=None, after=None, limit=10)

    assert (batch.total, batch.pending, batch.completed, batch.finished_at) == (3, 3, 0, None)
    assert batch.callback_task == "campaign_done" and batch.callback_job_id is None
    assert [j.payload for j in page.jobs] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {(j.batch_id, j.state) for j in page.jobs} == {(batch.id, JobState.AVAILABLE)}
    assert await store.get_batch(batch_id=batch.id) == batch


async def test_counters_follow_children_and_the_last_final_child_enqueues_the_callback(
    store: Store,
) -> None:
    batch = await make_batch(store, 4, callback=CALLBACK)
    a, b, c, d = await claim(store, limit=4)

    await store.ack_jobs(
        acks=[complete(a, "ok-a"), fail(b, retry_at=LATER), fail(c)], now=NOW
    )  # b will retry: not final
    midway = await store.get_batch(batch_id=batch.id)
    await store.cancel_jobs(ids=[d.id], now=NOW)
    assert await callbacks(store) == []
    (b_again,) = await claim(store, now=LATER)
    await store.ack_jobs(acks=[complete(b_again, "ok-b")], now=LATER)
    done = await store.get_batch(batch_id=batch.id)

    assert (midway.pending, midway.completed, midway.failed, midway.cancelled) == (2, 1, 1, 0)
    assert (done.pending, done.completed, done.failed, done.cancelled) == (0, 2, 1, 1)
    assert done.finished_at == LATER
    payloads = await callbacks(store)
    assert payloads == [
        {
            "campaign": 7,
            "batch_id": batch.id,
            "parent_id": None,
            "total": 4,
            "completed": 2,
            "failed": 1,
            "cancelled": 1,
        }
    ]
    callback = await store.get_job(job_id=done.callback_job_id or 0)
    assert (callback.task, callback.queue, callback.state) == (
        "campaign_done",
        "email",
        JobState.AVAILABLE,
    )


async def test_a_batch_without_callback_just_finishes(store: Store) -> None:
    batch = await make_batch(store, 2)
    jobs = await claim(store)
    await store.ack_jobs(acks=[complete(j) for j in jobs], now=LATER)

    done = await store.get_batch(batch_id=batch.id)

    assert done.is_finished and done.callback_job_id is None
    assert len(await list_all(store)) == 2  # the children; no callback job


async def test_rescue_that_exhausts_attempts_counts_as_failed(store: Store) -> None:
    created, _ = await store.insert_batch(
        batch=NewBatch(callback=CALLBACK),
        jobs=[new_job(max_attempts=1)],
        now=NOW,
    )
    await claim(store)
    await store.rescue_expired(now=NOW + TTL * 2, limit=10)

    done = await store.get_batch(batch_id=created.id)

    assert (done.failed, done.pending) == (1, 0)
    assert [p["failed"] for p in await callbacks(store)] == [1]


async def test_retrying_a_failed_child_reopens_the_batch_but_never_calls_back_twice(
    store: Store,
) -> None:
    batch = await make_batch(store, 1, callback=CALLBACK)
    (job,) = await claim(store)
    await store.ack_jobs(acks=[fail(job)], now=NOW)

    await store.retry_jobs(ids=[job.id], now=LATER)
    reopened = await store.get_batch(batch_id=batch.id)
    (again,) = await claim(store, now=LATER, queues=["default"])
    await store.ack_jobs(acks=[complete(again)], now=LATER)
    closed = await store.get_batch(batch_id=batch.id)

    assert (reopened.pending, reopened.failed, reopened.finished_at) == (1, 0, None)
    assert (closed.pending, closed.completed, closed.failed) == (0, 1, 0)
    assert len(await callbacks(store)) == 1


async def test_cancel_batch_cancels_only_unfinished_children(store: Store) -> None:
    batch = await make_batch(store, 3, callback=CALLBACK)
    first, running = await claim(store, limit=2)
    await store.ack_jobs(acks=[complete(first)], now=NOW)

    cancelled = await store.cancel_batch(batch_id=batch.id, now=LATER)
    after = await store.get_batch(batch_id=batch.id)

    assert running.id in cancelled and first.id not in cancelled and len(cancelled) == 2
    assert (after.completed, after.cancelled, after.pending) == (1, 2, 0)
    assert [p["cancelled"] for p in await callbacks(store)] == [2]
    with pytest.raises(BatchNotFound):
        await store.cancel_batch(batch_id=batch.id + 1000, now=LATER)


async def test_a_taken_batch_key_returns_the_batch_and_inserts_no_children(store: Store) -> None:
    first = await make_batch(store, 2, idempotency_key="job:1:batch:0")
    again, is_new = await store.insert_batch(
        batch=NewBatch(idempotency_key="job:1:batch:0"), jobs=[new_job()], now=LATER
    )

    assert not is_new and again == first
    assert len(await list_all(store)) == 2


async def test_parent_progress_is_the_share_of_final_children(store: Store) -> None:
    (parent,) = await insert(store, new_job(task="parent"))
    batch = await make_batch(store, 4, parent_id=parent.id)
    children = await claim(store, limit=10, queues=["default"])
    children = [j for j in children if j.batch_id == batch.id]
    await store.ack_jobs(acks=[complete(j) for j in children[:3]], now=NOW)

    assert [b.id for b in await store.list_batches(parent_id=parent.id)] == [batch.id]
    progress = (await store.get_job(job_id=parent.id)).progress
    assert progress is not None and (progress.done, progress.total) == (3, 4)


async def test_last_two_children_finishing_at_once_call_back_exactly_once(store: Store) -> None:
    for _ in range(15):
        batch = await make_batch(store, 2, callback=CALLBACK)
        jobs = await claim(store, limit=2, queues=["default"])
        assert {j.batch_id for j in jobs} == {batch.id}
        await asyncio.gather(*(store.ack_jobs(acks=[complete(j)], now=NOW) for j in jobs))
        done = await store.get_batch(batch_id=batch.id)
        assert done.pending == 0 and done.callback_job_id is not None
    payloads = await callbacks(store)
    assert len(payloads) == 15
    assert {p["completed"] for p in payloads} == {2}


async def test_recent_batches_list_newest_first_in_keyset_pages(store: Store) -> None:
    first, second, third = [await make_batch(store, 2) for _ in range(3)]
    (a, b) = await claim(store, limit=2)  # the first batch's children
    await store.ack_jobs(acks=[complete(a), complete(b)], now=NOW)

    page = await store.list_recent_batches(unfinished_only=False, after=None, limit=2)
    rest = await store.list_recent_batches(unfinished_only=False, after=page.next_after, limit=2)
    unfinished = await store.list_recent_batches(unfinished_only=True, after=None, limit=10)

    assert {a.batch_id, b.batch_id} == {first.id}
    assert [x.id for x in page.batches] == [third.id, second.id]
    assert page.next_after == second.id
    assert ([x.id for x in rest.batches], rest.next_after) == ([first.id], None)
    assert rest.batches[0].completed == 2 and rest.batches[0].is_finished
    assert [x.id for x in unfinished.batches] == [third.id, second.id]
    assert unfinished.next_after is None
