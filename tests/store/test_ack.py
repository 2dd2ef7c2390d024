"""Conformance: completing and failing jobs through lease-fenced batch acks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.job import JobError, JobState
from conveyor.store.base import Completion, Failure, Store
from conveyor.store.factory import open_store
from tests.store.helpers import (
    NOW,
    TTL,
    claim,
    complete,
    error,
    fail,
    insert,
    insert_and_claim,
    new_job,
)

LATER = NOW + timedelta(seconds=10)


RESULTS: list[Any] = [
    {"sent": True, "ids": [1, 2], "nested": {"x": None}},
    [1, "two", 3.5, None],
    "done",
    "",
    "null",
    42,
    2.5,
    True,
    None,
]


async def test_complete_sets_completed_finished_at_and_result(store: Store) -> None:
    jobs = await insert_and_claim(store, *(new_job() for _ in RESULTS))

    outcome = await store.ack_jobs(
        acks=[complete(job, result) for job, result in zip(jobs, RESULTS, strict=True)],
        now=LATER,
    )

    assert outcome.acked == [j.id for j in jobs]
    assert outcome.lost == []
    for job, result in zip(jobs, RESULTS, strict=True):
        stored = await store.get_job(job_id=job.id)
        assert stored.state is JobState.COMPLETED
        assert stored.finished_at == LATER
        assert stored.result == result
        assert type(stored.result) is type(result)
        assert stored.lease is None
        assert stored.attempt == 1
        assert stored.errors == ()


async def test_ack_of_empty_batch_does_nothing(store: Store) -> None:
    outcome = await store.ack_jobs(acks=[], now=NOW)

    assert outcome.acked == []
    assert outcome.lost == []


async def test_ack_with_stale_lease_token_is_rejected_while_rest_of_batch_applies(
    store: Store,
) -> None:
    a, b, c = await insert_and_claim(store, new_job(), new_job(), new_job())
    stale = "0" * 32

    outcome = await store.ack_jobs(
        acks=[
            complete(a, "ok"),
            Completion(job_id=b.id, token=stale, result="stolen"),
            Failure(job_id=c.id, token=stale, error=error(1)),
        ],
        now=LATER,
    )

    assert outcome.acked == [a.id]
    assert [(lost.job_id, lost.token) for lost in outcome.lost] == [(b.id, stale), (c.id, stale)]
    assert (await store.get_job(job_id=a.id)).state is JobState.COMPLETED
    assert await store.get_job(job_id=b.id) == b
    assert await store.get_job(job_id=c.id) == c


async def test_ack_with_malformed_token_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)

    outcome = await store.ack_jobs(acks=[Completion(job_id=job.id, token="not-a-token")], now=LATER)

    assert outcome.acked == []
    assert [lost.job_id for lost in outcome.lost] == [job.id]
    assert await store.get_job(job_id=job.id) == job


async def test_ack_of_missing_job_is_reported_lost(store: Store) -> None:
    outcome = await store.ack_jobs(acks=[Completion(job_id=999_999, token="x")], now=LATER)

    assert outcome.acked == []
    assert [lost.job_id for lost in outcome.lost] == [999_999]


async def test_ack_of_job_cancelled_while_running_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)
    [cancelled] = await store.cancel_jobs(ids=[job.id], now=LATER)

    completion = await store.ack_jobs(acks=[complete(job, "late")], now=LATER)
    failure = await store.ack_jobs(acks=[fail(job, retry_at=LATER)], now=LATER)

    assert completion.acked == failure.acked == []
    assert [lost.job_id for lost in completion.lost] == [job.id]
    assert [lost.job_id for lost in failure.lost] == [job.id]
    stored = await store.get_job(job_id=job.id)
    assert stored == cancelled
    assert stored.state is JobState.CANCELLED
    assert stored.result is None
    assert stored.errors == ()


async def test_second_ack_of_the_same_job_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)
    first = await store.ack_jobs(acks=[complete(job, "first")], now=LATER)
    after_first = await store.get_job(job_id=job.id)

    again = await store.ack_jobs(acks=[complete(job, "second")], now=LATER + timedelta(days=1))
    failed = await store.ack_jobs(acks=[fail(job)], now=LATER + timedelta(days=1))

    assert first.acked == [job.id]
    assert again.acked == failed.acked == []
    assert [lost.job_id for lost in again.lost] == [job.id]
    assert [lost.job_id for lost in failed.lost] == [job.id]
    assert await store.get_job(job_id=job.id) == after_first
    assert after_first.result == "first"


async def test_failure_with_retry_at_and_attempts_left_makes_job_retrying(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    retry_at = LATER + timedelta(minutes=1)

    outcome = await store.ack_jobs(acks=[fail(job, retry_at=retry_at)], now=LATER)

    assert outcome.acked == [job.id]
    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.RETRYING
    assert stored.run_at == retry_at
    assert stored.finished_at is None
    assert stored.lease is None
    assert stored.attempt == 1
    assert stored.errors == (error(1),)


async def test_failure_without_retry_at_makes_job_failed(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))

    await store.ack_jobs(acks=[fail(job, message="fatal")], now=LATER)

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert stored.finished_at == LATER
    assert stored.lease is None
    assert stored.errors == (error(1, "fatal"),)


async def test_failure_on_last_attempt_makes_job_failed_even_with_retry_at(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=1))

    await store.ack_jobs(acks=[fail(job, retry_at=LATER + timedelta(minutes=1))], now=LATER)

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert stored.finished_at == LATER
    assert stored.errors == (error(1),)


async def test_job_that_exhausts_its_attempts_fails_with_every_error(store: Store) -> None:
    [job] = await insert(store, new_job(max_attempts=3))
    now = NOW
    for attempt in (1, 2, 3):
        [claimed] = await claim(store, now=now)
        assert (claimed.id, claimed.attempt) == (job.id, attempt)
        retry_at = now + timedelta(minutes=attempt)
        await store.ack_jobs(
            acks=[fail(claimed, retry_at=retry_at, message=f"boom {attempt}")], now=now
        )
        now = retry_at + timedelta(seconds=1)

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert stored.attempt == 3
    assert [e.attempt for e in stored.errors] == [1, 2, 3]
    assert [e.message for e in stored.errors] == ["boom 1", "boom 2", "boom 3"]
    assert stored.finished_at is not None
    assert await claim(store, now=now + timedelta(days=1)) == []


async def test_retrying_job_is_claimable_only_after_retry_at(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    retry_at = LATER + timedelta(minutes=1)
    await store.ack_jobs(acks=[fail(job, retry_at=retry_at)], now=LATER)

    assert await claim(store, now=retry_at - store.capabilities.time_precision) == []
    [again] = await claim(store, now=retry_at)

    assert again.id == job.id
    assert again.state is JobState.RUNNING
    assert again.attempt == 2
    assert again.lease_token != job.lease_token
    assert again.errors == (error(1),)


async def test_ack_with_token_of_an_earlier_attempt_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    await store.ack_jobs(acks=[fail(job, retry_at=LATER)], now=LATER)
    [again] = await claim(store, now=LATER)

    outcome = await store.ack_jobs(acks=[complete(job, "from attempt 1")], now=LATER)

    assert outcome.acked == []
    assert await store.get_job(job_id=job.id) == again


async def test_ack_batch_mixing_completions_and_failures_applies_each(store: Store) -> None:
    a, b, c = await insert_and_claim(store, new_job(), new_job(), new_job())

    outcome = await store.ack_jobs(
        acks=[fail(a, retry_at=LATER + timedelta(days=1)), complete(b, 1), fail(c)], now=LATER
    )

    assert sorted(outcome.acked) == sorted([a.id, b.id, c.id])
    states = [(await store.get_job(job_id=j.id)).state for j in (a, b, c)]
    assert states == [JobState.RETRYING, JobState.COMPLETED, JobState.FAILED]


async def test_ack_from_another_store_instance_is_applied(store: Store, store_url: str) -> None:
    [job] = await insert_and_claim(store)
    other = await open_store(store_url)
    try:
        outcome = await other.ack_jobs(acks=[complete(job, "elsewhere")], now=LATER)
    finally:
        await other.close()

    assert outcome.acked == [job.id]
    assert (await store.get_job(job_id=job.id)).result == "elsewhere"


async def test_each_error_carries_the_start_of_its_attempt(store: Store) -> None:
    """Failed and rescued attempts alike: the store stamps each error with its attempt's
    start from the job row, whatever the worker's error said (here: nothing)."""
    [job] = await insert(store, new_job(max_attempts=3))
    starts = [NOW, NOW + timedelta(minutes=5), NOW + timedelta(minutes=10)]

    [first] = await claim(store, now=starts[0])
    unstamped = JobError(attempt=1, type="ValueError", message="boom", traceback="", at=LATER)
    assert unstamped.started_at is None
    retry = Failure(first.id, first.lease_token or "", unstamped, retry_at=starts[1])
    await store.ack_jobs(acks=[retry], now=LATER)
    [second] = await claim(store, now=starts[1])
    await store.rescue_expired(now=starts[1] + TTL + timedelta(seconds=1), limit=10)
    [third] = await claim(store, now=starts[2])
    await store.ack_jobs(acks=[fail(third, message="fatal")], now=starts[2])

    assert (second.id, third.id) == (job.id, job.id)
    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert [(e.attempt, e.type) for e in stored.errors] == [
        (1, "ValueError"),
        (2, "LeaseExpired"),
        (3, "ValueError"),
    ]
    assert [e.started_at for e in stored.errors] == starts
