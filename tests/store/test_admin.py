"""Conformance: operator actions (cancel, retry, re-run) and reading jobs back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.errors import InvalidTransition, JobNotFound
from conveyor.job import Job, JobState
from conveyor.store.base import JobFilter, Store
from tests.store.helpers import (
    NOW,
    claim,
    complete,
    counts,
    fail,
    insert,
    insert_and_claim,
    insert_many,
    list_all,
    make_states,
    new_job,
)

LATER = NOW + timedelta(minutes=1)


# -- get ------------------------------------------------------------------------------


async def test_get_of_missing_job_raises_job_not_found(store: Store) -> None:
    with pytest.raises(JobNotFound) as raised:
        await store.get_job(job_id=424_242)

    assert raised.value.job_id == 424_242


# -- cancel ---------------------------------------------------------------------------


async def test_cancel_cancels_waiting_and_running_jobs_but_not_final_ones(store: Store) -> None:
    jobs = await make_states(store)
    final = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
    before = {s: await store.get_job(job_id=j.id) for s, j in jobs.items() if s in final}

    cancelled = await store.cancel_jobs(ids=[j.id for j in jobs.values()], now=LATER)

    expected = sorted(j.id for s, j in jobs.items() if s not in final)
    assert [j.id for j in cancelled] == expected
    for job in cancelled:
        assert job.state is JobState.CANCELLED
        assert job.finished_at == LATER
        assert job.lease is None
        assert await store.get_job(job_id=job.id) == job
    for state, job in before.items():
        assert await store.get_job(job_id=job.id) == job, state


async def test_cancel_of_missing_ids_returns_nothing(store: Store) -> None:
    assert await store.cancel_jobs(ids=[424_242], now=LATER) == []
    assert await store.cancel_jobs(ids=[], now=LATER) == []


async def test_cancelled_job_is_never_claimed(store: Store) -> None:
    [job] = await insert(store)
    await store.cancel_jobs(ids=[job.id], now=NOW)

    assert await claim(store, now=NOW + timedelta(days=1)) == []


# -- retry ----------------------------------------------------------------------------


async def test_retry_makes_failed_and_cancelled_jobs_available_again(store: Store) -> None:
    jobs = await make_states(store)
    ids = [j.id for j in jobs.values()]

    retried = await store.retry_jobs(ids=ids, now=LATER)

    expected = sorted([jobs[JobState.FAILED].id, jobs[JobState.CANCELLED].id])
    assert [j.id for j in retried] == expected
    for job in retried:
        assert job.state is JobState.AVAILABLE
        assert job.run_at == LATER
        assert job.finished_at is None
        assert job.lease is None
        assert await store.get_job(job_id=job.id) == job
    for state in (JobState.COMPLETED, JobState.RUNNING, JobState.RETRYING, JobState.SCHEDULED):
        assert (await store.get_job(job_id=jobs[state].id)).state is state
    reclaimed = await claim(store, now=LATER)
    assert set(expected) <= {j.id for j in reclaimed}


async def test_retry_of_exhausted_job_grants_one_more_attempt(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=1))
    await store.ack_jobs(acks=[fail(job)], now=NOW)

    [retried] = await store.retry_jobs(ids=[job.id], now=LATER)

    assert retried.attempt == 1
    assert retried.max_attempts == 2
    [again] = await claim(store, now=LATER)
    assert (again.id, again.attempt) == (job.id, 2)
    await store.ack_jobs(acks=[fail(again, retry_at=LATER)], now=LATER)
    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert [e.attempt for e in stored.errors] == [1, 2]


async def test_retry_of_job_cancelled_on_its_last_attempt_grants_one_more(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=1))
    await store.cancel_jobs(ids=[job.id], now=NOW)

    [retried] = await store.retry_jobs(ids=[job.id], now=LATER)

    assert (retried.state, retried.attempt, retried.max_attempts) == (JobState.AVAILABLE, 1, 2)


async def test_retry_of_job_with_attempts_left_keeps_max_attempts(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=5))
    await store.ack_jobs(acks=[fail(job)], now=NOW)

    [retried] = await store.retry_jobs(ids=[job.id], now=LATER)

    assert (retried.attempt, retried.max_attempts) == (1, 5)


async def test_retry_ignores_completed_jobs(store: Store) -> None:
    [job] = await insert_and_claim(store)
    await store.ack_jobs(acks=[complete(job, "ok")], now=NOW)
    completed = await store.get_job(job_id=job.id)

    assert await store.retry_jobs(ids=[job.id], now=LATER) == []
    assert await store.get_job(job_id=job.id) == completed


async def _failed(store: Store, task: str, finished_at: timedelta) -> Job:
    [job] = await insert_and_claim(store, new_job(task=task))
    await store.ack_jobs(acks=[fail(job)], now=NOW + finished_at)
    return await store.get_job(job_id=job.id)


async def test_retry_failed_by_ids_touches_only_those_failed_jobs(store: Store) -> None:
    a = await _failed(store, "a", timedelta(minutes=1))
    b = await _failed(store, "a", timedelta(minutes=2))
    jobs = await make_states(store)

    count = await store.retry_failed(
        filter=JobFilter(ids=[a.id, *(j.id for j in jobs.values())]), now=LATER
    )

    assert count == 2  # a and the failed one of make_states
    assert (await store.get_job(job_id=a.id)).state is JobState.AVAILABLE
    assert (await store.get_job(job_id=jobs[JobState.FAILED].id)).state is JobState.AVAILABLE
    assert await store.get_job(job_id=b.id) == b
    assert (await store.get_job(job_id=jobs[JobState.CANCELLED].id)).state is JobState.CANCELLED


async def test_retry_failed_by_tasks(store: Store) -> None:
    a = await _failed(store, "a", timedelta(minutes=1))
    b = await _failed(store, "b", timedelta(minutes=1))
    c = await _failed(store, "c", timedelta(minutes=1))

    count = await store.retry_failed(filter=JobFilter(tasks=["a", "c"]), now=LATER)

    assert count == 2
    states = [(await store.get_job(job_id=j.id)).state for j in (a, b, c)]
    assert states == [JobState.AVAILABLE, JobState.FAILED, JobState.AVAILABLE]


async def test_retry_failed_by_finished_time_range(store: Store) -> None:
    early = await _failed(store, "t", timedelta(minutes=1))
    middle = await _failed(store, "t", timedelta(minutes=2))
    boundary = await _failed(store, "t", timedelta(minutes=3))
    late = await _failed(store, "t", timedelta(minutes=4))

    count = await store.retry_failed(
        filter=JobFilter(
            finished_after=NOW + timedelta(minutes=2),
            finished_before=NOW + timedelta(minutes=3),
        ),
        now=LATER,
    )

    assert count == 1  # finished_after is inclusive, finished_before exclusive
    states = [(await store.get_job(job_id=j.id)).state for j in (early, middle, boundary, late)]
    assert states == [JobState.FAILED, JobState.AVAILABLE, JobState.FAILED, JobState.FAILED]

    count = await store.retry_failed(
        filter=JobFilter(finished_after=NOW + timedelta(minutes=3)), now=LATER
    )

    assert count == 2
    assert (await store.get_job(job_id=early.id)).state is JobState.FAILED


async def test_retry_failed_with_no_match_returns_zero(store: Store) -> None:
    await make_states(store)

    assert await store.retry_failed(filter=JobFilter(tasks=["nothing"]), now=LATER) == 0
    assert await store.retry_failed(filter=JobFilter(tasks=["completed"]), now=LATER) == 0
    assert await store.retry_failed(filter=JobFilter(tasks=["cancelled"]), now=LATER) == 0


# -- re-run ---------------------------------------------------------------------------


async def test_rerun_of_completed_job_creates_a_new_available_job(store: Store) -> None:
    [job] = await insert_and_claim(
        store,
        new_job(
            task="report",
            queue="reports",
            payload={"month": 12},
            priority=3,
            max_attempts=4,
            timeout_seconds=9.5,
            idempotency_key="report-12",
        ),
    )
    await store.ack_jobs(acks=[complete(job, {"rows": 1})], now=NOW)
    original = await store.get_job(job_id=job.id)

    rerun = await store.rerun_job(job_id=job.id, now=LATER)

    assert rerun.id != job.id
    assert rerun.rerun_of == job.id
    assert rerun.state is JobState.AVAILABLE
    assert (rerun.task, rerun.queue, rerun.payload) == ("report", "reports", {"month": 12})
    assert (rerun.priority, rerun.max_attempts, rerun.timeout_seconds) == (3, 4, 9.5)
    assert rerun.attempt == 0
    assert rerun.idempotency_key is None
    assert rerun.run_at == rerun.created_at == LATER
    assert rerun.result is None
    assert rerun.errors == ()
    assert rerun.started_at is None
    assert rerun.finished_at is None
    assert rerun.lease is None
    assert await store.get_job(job_id=rerun.id) == rerun
    assert await store.get_job(job_id=job.id) == original
    [claimed] = await claim(store, now=LATER)
    assert claimed.id == rerun.id


async def test_rerun_of_failed_and_cancelled_jobs_is_allowed(store: Store) -> None:
    jobs = await make_states(store)

    for state in (JobState.FAILED, JobState.CANCELLED):
        rerun = await store.rerun_job(job_id=jobs[state].id, now=LATER)
        assert rerun.rerun_of == jobs[state].id
        assert rerun.task == state.value


async def test_rerun_of_job_that_is_not_final_raises_invalid_transition(store: Store) -> None:
    jobs = await make_states(store)
    before = await counts(store)

    for state in (JobState.SCHEDULED, JobState.AVAILABLE, JobState.RUNNING, JobState.RETRYING):
        with pytest.raises(InvalidTransition) as raised:
            await store.rerun_job(job_id=jobs[state].id, now=LATER)
        assert (raised.value.job_id, raised.value.state) == (jobs[state].id, state.value)

    assert await counts(store) == before


async def test_rerun_of_missing_job_raises_job_not_found(store: Store) -> None:
    with pytest.raises(JobNotFound) as raised:
        await store.rerun_job(job_id=424_242, now=LATER)

    assert raised.value.job_id == 424_242
    assert await store.count_jobs() == []


# -- list -----------------------------------------------------------------------------


async def test_list_returns_newest_first(store: Store) -> None:
    jobs = await insert_many(store, 5)

    page = await store.list_jobs(filter=JobFilter(), after=None, limit=10)

    assert [j.id for j in page.jobs] == [j.id for j in reversed(jobs)]
    assert page.next_after is None
    assert page.jobs == [await store.get_job(job_id=j.id) for j in reversed(jobs)]


async def test_list_pages_cover_every_job_exactly_once(store: Store) -> None:
    jobs = await insert_many(store, 23)

    pages = []
    after: int | None = None
    while True:
        page = await store.list_jobs(filter=JobFilter(), after=after, limit=5)
        pages.append([j.id for j in page.jobs])
        if page.next_after is None:
            break
        assert page.next_after == page.jobs[-1].id
        after = page.next_after

    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == sorted((j.id for j in jobs), reverse=True)


async def test_list_last_full_page_has_no_next_cursor(store: Store) -> None:
    await insert_many(store, 10)

    first = await store.list_jobs(filter=JobFilter(), after=None, limit=5)
    second = await store.list_jobs(filter=JobFilter(), after=first.next_after, limit=5)

    assert first.next_after is not None
    assert len(second.jobs) == 5
    assert second.next_after is None


async def test_list_of_empty_store_is_an_empty_last_page(store: Store) -> None:
    page = await store.list_jobs(filter=JobFilter(), after=None, limit=5)

    assert page.jobs == []
    assert page.next_after is None


async def test_list_pagination_is_stable_under_inserts(store: Store) -> None:
    original = await insert_many(store, 25)

    seen: list[int] = []
    after: int | None = None
    while True:
        page = await store.list_jobs(filter=JobFilter(), after=after, limit=7)
        seen.extend(j.id for j in page.jobs)
        if page.next_after is None:
            break
        after = page.next_after
        await insert_many(store, 3)  # new jobs arrive while paging

    assert seen == sorted((j.id for j in original), reverse=True)


async def test_list_filters_by_states(store: Store) -> None:
    jobs = await make_states(store)

    listed = await list_all(
        store, JobFilter(states=[JobState.FAILED, JobState.SCHEDULED, JobState.RUNNING])
    )

    assert {j.id for j in listed} == {
        jobs[s].id for s in (JobState.FAILED, JobState.SCHEDULED, JobState.RUNNING)
    }


async def test_list_filters_by_tasks_queues_and_ids(store: Store) -> None:
    a1, a2, b1, b2 = await insert(
        store,
        new_job(task="a", queue="q1"),
        new_job(task="a", queue="q2"),
        new_job(task="b", queue="q1"),
        new_job(task="b", queue="q2"),
    )

    by_task = await list_all(store, JobFilter(tasks=["a"]))
    by_queue = await list_all(store, JobFilter(queues=["q2"]))
    by_ids = await list_all(store, JobFilter(ids=[a1.id, b2.id, 424_242]))
    combined = await list_all(
        store, JobFilter(tasks=["b"], queues=["q1", "q2"], ids=[a1.id, b1.id])
    )
    nothing = await list_all(store, JobFilter(tasks=[]))

    assert [j.id for j in by_task] == [a2.id, a1.id]
    assert [j.id for j in by_queue] == [b2.id, a2.id]
    assert [j.id for j in by_ids] == [b2.id, a1.id]
    assert [j.id for j in combined] == [b1.id]
    assert nothing == []


async def test_list_filters_by_idempotency_key(store: Store) -> None:
    keyed, _, other_task = await insert(
        store,
        new_job(task="a", idempotency_key="k1"),
        new_job(task="a", idempotency_key="k2"),
        new_job(task="b", idempotency_key="k1"),
    )

    listed = await list_all(store, JobFilter(idempotency_key="k1"))
    narrowed = await list_all(store, JobFilter(idempotency_key="k1", tasks=["a"]))

    assert [j.id for j in listed] == [other_task.id, keyed.id]
    assert [j.id for j in narrowed] == [keyed.id]


async def test_list_filters_by_creation_time_range(store: Store) -> None:
    minute = timedelta(minutes=1)
    [first] = await insert(store, now=NOW)
    [second] = await insert(store, now=NOW + minute)
    [third] = await insert(store, now=NOW + 2 * minute)

    after = await list_all(store, JobFilter(created_after=NOW + minute))
    before = await list_all(store, JobFilter(created_before=NOW + minute))
    between = await list_all(
        store, JobFilter(created_after=NOW + minute, created_before=NOW + 2 * minute)
    )

    # created_after is inclusive, created_before exclusive.
    assert [j.id for j in after] == [third.id, second.id]
    assert [j.id for j in before] == [first.id]
    assert [j.id for j in between] == [second.id]


async def test_list_filters_by_finished_time_range(store: Store) -> None:
    early = await _failed(store, "t", timedelta(minutes=1))
    late = await _failed(store, "t", timedelta(minutes=5))
    await insert(store)

    listed = await list_all(store, JobFilter(finished_after=NOW + timedelta(minutes=2)))
    unfinished_excluded = await list_all(store, JobFilter(finished_before=NOW + timedelta(days=1)))

    assert [j.id for j in listed] == [late.id]
    assert [j.id for j in unfinished_excluded] == [late.id, early.id]


async def test_list_filter_pages_with_keyset_cursor(store: Store) -> None:
    jobs = await insert(store, *(new_job(task="a" if i % 3 else "b") for i in range(20)))

    listed = await list_all(store, JobFilter(tasks=["b"]), limit=2)

    assert [j.id for j in listed] == sorted((j.id for j in jobs if j.task == "b"), reverse=True)


# -- count ----------------------------------------------------------------------------


async def test_count_jobs_per_queue_and_state(store: Store) -> None:
    await insert_many(store, 3, queue="q1")
    await insert_many(store, 2, queue="q2")
    await insert_many(store, 1, queue="q2", run_at=NOW + timedelta(hours=1))
    await claim(store, queues=["q1"], limit=2)

    assert await counts(store) == {
        ("q1", "available"): 1,
        ("q1", "running"): 2,
        ("q2", "available"): 2,
        ("q2", "scheduled"): 1,
    }


async def test_count_jobs_of_empty_store_is_empty(store: Store) -> None:
    assert await store.count_jobs() == []
