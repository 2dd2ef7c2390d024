"""Conformance: inserting jobs in batches, scheduling and idempotency keys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor.job import JobState
from conveyor.store.base import JobFilter, NewJob, Store
from conveyor.store.factory import open_store
from tests.store.helpers import NOW, claim, insert, new_job


async def test_insert_returns_jobs_in_input_order_with_ids(store: Store) -> None:
    jobs = [new_job(task=f"task_{i}", payload={"n": i}) for i in range(10)]

    inserted = await store.insert_jobs(jobs=jobs, now=NOW)

    assert [i.job.task for i in inserted] == [f"task_{i}" for i in range(10)]
    assert [i.job.payload for i in inserted] == [{"n": i} for i in range(10)]
    assert all(i.created for i in inserted)
    ids = [i.job.id for i in inserted]
    assert len(set(ids)) == 10
    assert ids == sorted(ids)


async def test_insert_due_job_is_available_and_future_job_is_scheduled(store: Store) -> None:
    later = NOW + timedelta(minutes=5)
    past = NOW - timedelta(minutes=5)

    inserted = await store.insert_jobs(
        jobs=[new_job(run_at=NOW), new_job(run_at=past), new_job(run_at=later)], now=NOW
    )

    assert [i.job.state for i in inserted] == [
        JobState.AVAILABLE,
        JobState.AVAILABLE,
        JobState.SCHEDULED,
    ]
    assert [i.job.run_at for i in inserted] == [NOW, past, later]


async def test_insert_roundtrips_every_field(store: Store) -> None:
    payload = {"to": "a@example.com", "nested": {"list": [1, 2.5, "x", None, True]}, "n": 7}
    job = new_job(
        task="resize",
        queue="images",
        payload=payload,
        run_at=NOW + timedelta(seconds=1, microseconds=123456),
        priority=-5,
        max_attempts=7,
        timeout_seconds=12.5,
        idempotency_key="k-1",
    )

    [inserted] = await store.insert_jobs(jobs=[job], now=NOW)
    stored = await store.get_job(job_id=inserted.job.id)

    for got in (inserted.job, stored):
        assert got.task == "resize"
        assert got.queue == "images"
        assert got.payload == payload
        assert got.priority == -5
        assert got.max_attempts == 7
        assert got.timeout_seconds == 12.5
        assert got.idempotency_key == "k-1"
        assert got.run_at == NOW + timedelta(seconds=1, microseconds=123456)
        assert got.created_at == NOW
        assert got.attempt == 0
        assert got.state is JobState.SCHEDULED
        assert got.started_at is None
        assert got.finished_at is None
        assert got.errors == ()
        assert got.result is None
        assert got.checkpoint is None
        assert got.progress is None
        assert got.rerun_of is None
        assert got.lease is None
        assert got.worker_id is None
    assert stored == inserted.job


async def test_insert_stores_times_as_instants_whatever_their_zone(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    run_at = datetime(2026, 1, 1, 3, 0, tzinfo=plus_two)  # 01:00 UTC
    now = datetime(2026, 1, 1, 2, 30, tzinfo=plus_two)  # 00:30 UTC

    [inserted] = await store.insert_jobs(jobs=[new_job(run_at=run_at)], now=now)
    stored = await store.get_job(job_id=inserted.job.id)

    assert stored.run_at == NOW + timedelta(hours=1)
    assert stored.created_at == NOW + timedelta(minutes=30)
    assert stored.run_at.utcoffset() == timedelta(0)
    assert stored.state is JobState.SCHEDULED
    assert await store.claim_jobs(
        queues=None, limit=1, lease_ttl=timedelta(seconds=1), worker_id="w", now=run_at
    )


async def test_insert_empty_batch_returns_nothing_and_creates_nothing(store: Store) -> None:
    assert await store.insert_jobs(jobs=[], now=NOW) == []
    assert await store.count_jobs() == []


async def test_insert_five_thousand_jobs_in_one_call(store: Store) -> None:
    jobs = [new_job(payload={"n": i}, priority=i % 3) for i in range(5_000)]

    inserted = await store.insert_jobs(jobs=jobs, now=NOW)

    assert len(inserted) == 5_000
    assert [i.job.payload["n"] for i in inserted] == list(range(5_000))
    assert len({i.job.id for i in inserted}) == 5_000
    counts = await store.count_jobs()
    assert [(c.queue, c.state, c.count) for c in counts] == [("default", JobState.AVAILABLE, 5_000)]


async def test_insert_with_held_idempotency_key_returns_existing_job_and_creates_nothing(
    store: Store,
) -> None:
    [first] = await store.insert_jobs(
        jobs=[new_job(idempotency_key="order-1", payload={"v": 1})], now=NOW
    )

    [second] = await store.insert_jobs(
        jobs=[new_job(idempotency_key="order-1", payload={"v": 2})],
        now=NOW + timedelta(seconds=1),
    )

    assert first.created
    assert not second.created
    assert second.job == first.job
    assert second.job.payload == {"v": 1}
    page = await store.list_jobs(filter=JobFilter(), after=None, limit=10)
    assert [j.id for j in page.jobs] == [first.job.id]


async def test_insert_mixed_batch_with_held_key_keeps_input_order(store: Store) -> None:
    [held] = await store.insert_jobs(jobs=[new_job(idempotency_key="k")], now=NOW)

    out = await store.insert_jobs(
        jobs=[
            new_job(payload={"n": 0}),
            new_job(idempotency_key="k", payload={"n": 1}),
            new_job(payload={"n": 2}),
        ],
        now=NOW,
    )

    assert [i.created for i in out] == [True, False, True]
    assert out[1].job.id == held.job.id
    assert out[0].job.payload == {"n": 0}
    assert out[2].job.payload == {"n": 2}
    assert out[0].job.id < out[2].job.id


async def test_insert_same_key_twice_in_one_batch_creates_one_job(store: Store) -> None:
    out = await store.insert_jobs(
        jobs=[
            new_job(idempotency_key="dup", payload={"n": 1}),
            new_job(idempotency_key="dup", payload={"n": 2}),
        ],
        now=NOW,
    )

    assert [i.created for i in out] == [True, False]
    assert out[0].job.id == out[1].job.id
    assert out[0].job.payload == {"n": 1}
    page = await store.list_jobs(filter=JobFilter(), after=None, limit=10)
    assert len(page.jobs) == 1


async def test_insert_same_key_for_different_tasks_creates_two_jobs(store: Store) -> None:
    out = await store.insert_jobs(
        jobs=[
            new_job(task="a", idempotency_key="shared"),
            new_job(task="b", idempotency_key="shared"),
        ],
        now=NOW,
    )

    assert [i.created for i in out] == [True, True]
    assert out[0].job.id != out[1].job.id
    assert [i.job.task for i in out] == ["a", "b"]


async def test_concurrent_inserts_with_same_key_create_exactly_one_job(
    store: Store, store_url: str
) -> None:
    others = [await open_store(store_url) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(
                s.insert_jobs(jobs=[new_job(idempotency_key="race", payload={"by": n})], now=NOW)
                for n, s in enumerate(others)
            )
        )
    finally:
        for s in others:
            await s.close()

    outcomes = [r[0] for r in results]
    assert len({o.job.id for o in outcomes}) == 1
    assert sum(o.created for o in outcomes) == 1
    page = await store.list_jobs(filter=JobFilter(idempotency_key="race"), after=None, limit=10)
    assert [j.id for j in page.jobs] == [outcomes[0].job.id]
    page = await store.list_jobs(filter=JobFilter(), after=None, limit=10)
    assert len(page.jobs) == 1


async def test_times_far_in_the_past_and_future_round_trip(store: Store) -> None:
    for moment in (datetime(1, 1, 1, 0, 0, 7, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)):
        [inserted] = await store.insert_jobs(jobs=[new_job(run_at=moment)], now=NOW)
        assert (await store.get_job(job_id=inserted.job.id)).run_at == moment


# Each column is sent once when every job of a batch shares its value, per job otherwise:
# these two cover both ways for every column, with NULLs among the values too.
EVERY_COLUMN: dict[str, Any] = {
    "task": "resize",
    "queue": "images",
    "payload": {"n": 1},
    "run_at": NOW + timedelta(seconds=1, microseconds=7),
    "priority": -5,
    "max_attempts": 7,
    "idempotency_key": "k",
    "timeout_seconds": 12.5,
    "concurrency_key": "resize:a",
    "concurrency_limit": 2,
    "rate_key": "resize",
    "rate_per_second": 0.5,
    "rate_burst": 3.0,
    "fairness_key": "tenant-1",
}


async def test_insert_batch_whose_jobs_share_every_value_round_trips(store: Store) -> None:
    [rerun_of] = await insert(store)
    shared = {**EVERY_COLUMN, "rerun_of": rerun_of.id}
    jobs = [new_job(**{**shared, "idempotency_key": None, "payload": {"n": n}}) for n in range(3)]

    inserted = await store.insert_jobs(jobs=jobs, now=NOW)

    assert [i.job.payload for i in inserted] == [{"n": 0}, {"n": 1}, {"n": 2}]
    for outcome in inserted:
        assert outcome.job == await store.get_job(job_id=outcome.job.id)
        assert (outcome.job.task, outcome.job.queue) == ("resize", "images")
        assert outcome.job.state is JobState.SCHEDULED
        assert outcome.job.rerun_of == rerun_of.id
        assert outcome.job.timeout_seconds == 12.5
        assert (outcome.job.concurrency_key, outcome.job.concurrency_limit) == ("resize:a", 2)
        assert (outcome.job.rate_key, outcome.job.fairness_key) == ("resize", "tenant-1")


async def test_insert_batch_whose_jobs_differ_in_every_column_round_trips(store: Store) -> None:
    [rerun_of] = await insert(store)
    first = new_job(**EVERY_COLUMN, rerun_of=rerun_of.id)
    second = new_job(task="other", payload={"n": 2}, run_at=NOW - timedelta(seconds=1))
    third = new_job(
        **{**EVERY_COLUMN, "idempotency_key": "k2", "queue": "q", "priority": 3, "max_attempts": 1}
    )

    inserted = await store.insert_jobs(jobs=[first, second, third], now=NOW)

    stored = [await store.get_job(job_id=i.job.id) for i in inserted]
    assert [i.job for i in inserted] == stored
    assert [j.task for j in stored] == ["resize", "other", "resize"]
    assert [j.queue for j in stored] == ["images", "default", "q"]
    assert [j.state for j in stored] == [JobState.SCHEDULED, JobState.AVAILABLE, JobState.SCHEDULED]
    assert [j.run_at for j in stored] == [first.run_at, second.run_at, third.run_at]
    assert [j.priority for j in stored] == [-5, 0, 3]
    assert [j.max_attempts for j in stored] == [7, 3, 1]
    assert [j.idempotency_key for j in stored] == ["k", None, "k2"]
    assert [j.timeout_seconds for j in stored] == [12.5, None, 12.5]
    assert [j.rerun_of for j in stored] == [rerun_of.id, None, None]
    assert [j.concurrency_key for j in stored] == ["resize:a", None, "resize:a"]
    assert [j.concurrency_limit for j in stored] == [2, None, 2]
    assert [j.rate_key for j in stored] == ["resize", None, "resize"]
    assert [j.fairness_key for j in stored] == ["tenant-1", None, "tenant-1"]


async def test_insert_job_chunks_is_one_insert_of_their_concatenation(store: Store) -> None:
    # A chunk without keys, then one whose keys repeat within the batch and are held.
    [held] = await store.insert_jobs(jobs=[new_job(idempotency_key="held")], now=NOW)
    chunks = [
        [new_job(payload={"n": 0}), new_job(idempotency_key="k", payload={"n": 1})],
        [new_job(payload={"n": 2}), new_job(payload={"n": 3})],
        [new_job(idempotency_key="k", payload={"n": 4}), new_job(idempotency_key="held")],
        [],
    ]

    out = await store.insert_job_chunks(chunks=iter(chunks), now=NOW)

    assert [i.created for i in out] == [True, True, True, True, False, False]
    assert [i.job.payload for i in out[:4]] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    assert out[4].job == out[1].job
    assert out[5].job.id == held.job.id
    ids = [i.job.id for i in out[:4]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    for each in out[:4]:
        assert await store.get_job(job_id=each.job.id) == each.job


async def test_insert_job_chunks_inserts_nothing_when_a_later_chunk_fails(
    store: Store,
) -> None:
    def chunks() -> Iterator[list[NewJob]]:
        yield [new_job(payload={"n": n}) for n in range(3)]
        yield [new_job(idempotency_key="k")]
        raise RuntimeError("the third chunk is bad")

    with pytest.raises(RuntimeError, match="third chunk"):
        await store.insert_job_chunks(chunks=chunks(), now=NOW)

    assert (await store.list_jobs(filter=JobFilter(), after=None, limit=10)).jobs == []
    # The key the rolled-back chunk took is free again.
    [again] = await store.insert_jobs(jobs=[new_job(idempotency_key="k")], now=NOW)
    assert again.created


async def test_insert_job_chunks_wakes_each_queue_once_when_it_commits(store: Store) -> None:
    if not store.capabilities.listen_notify:
        pytest.skip("no cross-process notifications (capabilities.listen_notify)")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await store.listen(on_notify=heard.put_nowait)
    try:
        later = NOW + timedelta(hours=1)
        chunks = [
            [new_job(queue="a"), new_job(queue="b")],
            [new_job(queue="a"), new_job(queue="later", run_at=later)],
        ]
        await store.insert_job_chunks(chunks=iter(chunks), now=NOW)
        await store.insert_jobs(jobs=[new_job(queue="end")], now=NOW)  # a later commit

        wakes = []
        while (queue := await asyncio.wait_for(heard.get(), timeout=10)) != "end":
            wakes.append(queue)
        assert sorted(wakes) == ["a", "b"]
    finally:
        await listener.close()


async def test_a_jobs_trace_context_is_stored_and_claimed_with_it(store: Store) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traced, plain = await insert(store, new_job(traceparent=parent), new_job())
    assert (traced.traceparent, plain.traceparent) == (parent, None)
    assert (await store.get_job(job_id=traced.id)).traceparent == parent
    claimed = {job.id: job.traceparent for job in await claim(store)}
    assert claimed == {traced.id: parent, plain.id: None}
