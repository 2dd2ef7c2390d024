"""Administration through the app: cancel, retry, retry_failed, rerun and list_jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pydantic
import pytest

from conveyor import (
    Conveyor,
    Discard,
    InvalidArgument,
    InvalidTransition,
    Job,
    JobNotFound,
    JobState,
    Task,
)
from conveyor.clock import FrozenClock
from conveyor.testing import drain


class Ping(pydantic.BaseModel):
    n: int = 0


async def succeeds(payload: Ping) -> dict[str, int]:
    return {"n": payload.n}


async def breaks(payload: Ping) -> None:
    raise RuntimeError(f"broken {payload.n}")


def discards(payload: Ping) -> None:
    raise Discard("not wanted")


@pytest.fixture
def ok(app: Conveyor) -> Task[Any]:
    return app.task(queue="fast", priority=3)(succeeds)


@pytest.fixture
def broken(app: Conveyor) -> Task[Any]:
    return app.task(max_attempts=1)(breaks)


@pytest.fixture
def discarded(app: Conveyor) -> Task[Any]:
    return app.task(discards)


def _ids(jobs: list[Job]) -> list[int]:
    return [j.id for j in jobs]


# -- cancel --------------------------------------------------------------------------------


async def test_cancel_a_waiting_job(app: Conveyor, ok: Task[Any], clock: FrozenClock) -> None:
    available = await ok.enqueue(Ping())
    scheduled = await ok.enqueue(Ping(), delay=3600)

    for job in (available, scheduled):
        cancelled = await app.cancel(job.id)
        assert cancelled.id == job.id
        assert cancelled.state is JobState.CANCELLED
        assert cancelled.finished_at == clock.now()
        assert (await app.get_job(job.id)).state is JobState.CANCELLED

    clock.advance(timedelta(hours=2))
    assert await drain(app) == 0, "cancelled jobs never run"


async def test_cancel_a_retrying_job(app: Conveyor) -> None:
    job = await app.task(max_attempts=3)(breaks).enqueue(Ping())
    await drain(app)
    assert (await app.get_job(job.id)).state is JobState.RETRYING

    assert (await app.cancel(job.id)).state is JobState.CANCELLED


async def test_cancelling_a_final_job_is_an_invalid_transition(
    app: Conveyor, ok: Task[Any]
) -> None:
    job = await ok.enqueue(Ping())
    await drain(app)

    with pytest.raises(InvalidTransition) as info:
        await app.cancel(job.id)

    assert (info.value.job_id, info.value.state, info.value.action) == (
        job.id,
        "completed",
        "cancel",
    )
    assert (await app.get_job(job.id)).state is JobState.COMPLETED

    other = await ok.enqueue(Ping())
    await app.cancel(other.id)
    with pytest.raises(InvalidTransition, match="cancelled"):
        await app.cancel(other.id)


async def test_cancel_of_an_unknown_job_raises_job_not_found(app: Conveyor) -> None:
    with pytest.raises(JobNotFound) as info:
        await app.cancel(999_999)
    assert info.value.job_id == 999_999


async def test_get_job_of_an_unknown_id_raises_job_not_found(app: Conveyor) -> None:
    with pytest.raises(JobNotFound, match="999999"):
        await app.get_job(999_999)


# -- retry ---------------------------------------------------------------------------------


async def test_retry_a_failed_job_grants_another_attempt(
    app: Conveyor, broken: Task[Any], clock: FrozenClock
) -> None:
    job = await broken.enqueue(Ping(n=1))
    await drain(app)
    assert (await app.get_job(job.id)).state is JobState.FAILED

    retried = await app.retry(job.id)

    assert retried.state is JobState.AVAILABLE
    assert retried.finished_at is None
    assert retried.run_at == clock.now()
    assert retried.max_attempts >= retried.attempt + 1
    assert await drain(app) == 1
    again = await app.get_job(job.id)
    assert again.state is JobState.FAILED
    assert again.attempt == 2
    assert [e.attempt for e in again.errors] == [1, 2]


async def test_retry_a_cancelled_job(app: Conveyor, ok: Task[Any]) -> None:
    job = await ok.enqueue(Ping(n=4))
    await app.cancel(job.id)

    assert (await app.retry(job.id)).state is JobState.AVAILABLE
    await drain(app)
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"n": 4}


async def test_retry_of_a_job_that_is_not_failed_or_cancelled(app: Conveyor, ok: Task[Any]) -> None:
    waiting = await ok.enqueue(Ping())
    with pytest.raises(InvalidTransition, match="available"):
        await app.retry(waiting.id)
    await drain(app)
    with pytest.raises(InvalidTransition, match="completed"):
        await app.retry(waiting.id)
    with pytest.raises(JobNotFound):
        await app.retry(123_456)


async def test_retry_failed_by_task_and_finish_time(
    app: Conveyor, broken: Task[Any], discarded: Task[Any], clock: FrozenClock
) -> None:
    early = await broken.enqueue(Ping(n=1))
    await drain(app)
    clock.advance(timedelta(hours=1))
    boundary = clock.now() - timedelta(minutes=30)
    late = await broken.enqueue(Ping(n=2))
    other_task = await discarded.enqueue(Ping(n=3))
    await drain(app)
    assert {(await app.get_job(j.id)).state for j in (early, late, other_task)} == {JobState.FAILED}

    assert await app.retry_failed(task="breaks", finished_after=boundary) == 1

    assert (await app.get_job(early.id)).state is JobState.FAILED
    assert (await app.get_job(late.id)).state is JobState.AVAILABLE
    assert (await app.get_job(other_task.id)).state is JobState.FAILED

    assert await app.retry_failed(task=broken.name, finished_before=boundary) == 1
    assert (await app.get_job(early.id)).state is JobState.AVAILABLE
    assert await app.retry_failed(task="breaks") == 0, "nothing of that task is failed now"

    assert await app.retry_failed(ids=[other_task.id]) == 1
    assert (await app.get_job(other_task.id)).state is JobState.AVAILABLE
    assert await app.retry_failed() == 0


async def test_retry_failed_ignores_jobs_that_are_not_failed(
    app: Conveyor, ok: Task[Any], broken: Task[Any]
) -> None:
    waiting = await ok.enqueue(Ping())
    cancelled = await ok.enqueue(Ping())
    await app.cancel(cancelled.id)
    failed = await broken.enqueue(Ping())
    await drain(app, queues=["default"])

    assert await app.retry_failed() == 1

    assert (await app.get_job(waiting.id)).state is JobState.AVAILABLE
    assert (await app.get_job(cancelled.id)).state is JobState.CANCELLED
    assert (await app.get_job(failed.id)).state is JobState.AVAILABLE


async def test_retry_failed_refuses_a_naive_time(app: Conveyor) -> None:
    with pytest.raises(InvalidArgument) as info:
        await app.retry_failed(finished_after=datetime(2026, 1, 1))
    assert info.value.field == "finished_after"


# -- rerun ---------------------------------------------------------------------------------


async def test_rerun_clones_a_finished_job(
    app: Conveyor, ok: Task[Any], clock: FrozenClock
) -> None:
    original = await ok.enqueue(Ping(n=9), idempotency_key="once")
    await drain(app)
    clock.advance(timedelta(minutes=1))

    clone = await app.rerun(original.id)

    assert clone.id != original.id
    assert clone.rerun_of == original.id
    assert clone.state is JobState.AVAILABLE
    assert clone.attempt == 0
    assert clone.errors == ()
    assert clone.result is None
    assert clone.created_at == clock.now()
    assert (clone.task, clone.queue, clone.payload, clone.priority, clone.max_attempts) == (
        original.task,
        original.queue,
        original.payload,
        original.priority,
        original.max_attempts,
    )
    assert clone.idempotency_key is None, "the original keeps its key"
    assert clone.to_json()["rerun_of"] == original.id
    assert (await app.get_job(original.id)).state is JobState.COMPLETED
    assert await drain(app) == 1
    assert (await app.get_job(clone.id)).result == {"n": 9}


async def test_rerun_of_a_failed_job(app: Conveyor, broken: Task[Any]) -> None:
    original = await broken.enqueue(Ping())
    await drain(app)

    clone = await app.rerun(original.id)

    assert clone.rerun_of == original.id
    assert clone.state is JobState.AVAILABLE
    assert (await app.get_job(original.id)).state is JobState.FAILED


async def test_rerun_needs_a_final_job(app: Conveyor, ok: Task[Any]) -> None:
    waiting = await ok.enqueue(Ping())
    with pytest.raises(InvalidTransition):
        await app.rerun(waiting.id)
    with pytest.raises(JobNotFound):
        await app.rerun(777_777)
    page = await app.list_jobs()
    assert _ids(page.jobs) == [waiting.id]


# -- list_jobs -----------------------------------------------------------------------------


async def test_list_jobs_filters(
    app: Conveyor, ok: Task[Any], broken: Task[Any], clock: FrozenClock
) -> None:
    first = await ok.enqueue(Ping(n=1), idempotency_key="first")
    failed = await broken.enqueue(Ping(n=2))
    await drain(app)
    finished_at = clock.now()
    clock.advance(timedelta(minutes=10))
    later = await ok.enqueue(Ping(n=3), queue="slow")
    scheduled = await ok.enqueue(Ping(n=4), delay=600)

    async def ids(**filters: Any) -> list[int]:
        return _ids((await app.list_jobs(**filters)).jobs)

    everything = [scheduled.id, later.id, failed.id, first.id]
    assert await ids() == everything, "newest first"
    assert await ids(state="completed") == [first.id]
    assert await ids(state=JobState.FAILED) == [failed.id]
    assert await ids(state=["available", JobState.SCHEDULED]) == [scheduled.id, later.id]
    assert await ids(task="succeeds") == [scheduled.id, later.id, first.id]
    assert await ids(task=broken.name) == [failed.id]
    assert await ids(task=["succeeds", "breaks"]) == everything
    assert await ids(task="not.registered") == []
    assert await ids(queue="slow") == [later.id]
    assert await ids(queue=["fast", "default"]) == [scheduled.id, failed.id, first.id]
    assert await ids(ids=[first.id, later.id, 999_999]) == [later.id, first.id]
    assert await ids(idempotency_key="first") == [first.id]
    assert await ids(created_after=clock.now()) == [scheduled.id, later.id]
    assert await ids(created_before=clock.now()) == [failed.id, first.id]
    assert await ids(finished_after=finished_at) == [failed.id, first.id]
    assert await ids(finished_before=finished_at) == []
    assert await ids(state="completed", task="breaks") == [], "conditions combine with AND"


async def test_list_jobs_pages_with_next_after(app: Conveyor, ok: Task[Any]) -> None:
    jobs = await ok.enqueue_many([Ping(n=i) for i in range(25)])
    expected = sorted(_ids(jobs), reverse=True)

    seen: list[int] = []
    sizes: list[int] = []
    after: int | None = None
    while True:
        page = await app.list_jobs(limit=10, after=after)
        seen += _ids(page.jobs)
        sizes.append(len(page.jobs))
        if page.next_after is None:
            break
        assert page.next_after == page.jobs[-1].id
        after = page.next_after
        # A job inserted while paging has a larger id and does not shift later pages.
        await ok.enqueue(Ping(n=100))

    assert sizes == [10, 10, 5]
    assert seen == expected


async def test_list_jobs_an_exact_page(app: Conveyor, ok: Task[Any]) -> None:
    await ok.enqueue_many([Ping(n=i) for i in range(10)])

    page = await app.list_jobs(limit=10)

    assert len(page.jobs) == 10
    assert page.next_after is None


async def test_list_jobs_filters_apply_across_pages(app: Conveyor, ok: Task[Any]) -> None:
    jobs = await ok.enqueue_many([Ping(n=i) for i in range(12)])
    for job in jobs[::2]:
        await app.cancel(job.id)

    first = await app.list_jobs(state="cancelled", limit=4)
    second = await app.list_jobs(state="cancelled", limit=4, after=first.next_after)

    assert _ids(first.jobs) + _ids(second.jobs) == sorted(_ids(jobs[::2]), reverse=True)
    assert second.next_after is None


@pytest.mark.parametrize("state", ["bogus", ["failed", "bogus"]])
async def test_list_jobs_of_an_unknown_state_is_refused(app: Conveyor, state: Any) -> None:
    with pytest.raises(InvalidArgument) as info:
        await app.list_jobs(state=state)
    assert info.value.field == "state"
    assert "bogus" in str(info.value)


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**9])
async def test_list_jobs_limit_out_of_range_is_refused(app: Conveyor, limit: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        await app.list_jobs(limit=limit)
    assert info.value.field == "limit"


@pytest.mark.parametrize("limit", [1, 1000])
async def test_list_jobs_limit_bounds_are_accepted(
    app: Conveyor, ok: Task[Any], limit: int
) -> None:
    await ok.enqueue_many([Ping(n=i) for i in range(2)])
    page = await app.list_jobs(limit=limit)
    assert len(page.jobs) == min(limit, 2)


@pytest.mark.parametrize(
    "field", ["created_after", "created_before", "finished_after", "finished_before"]
)
async def test_list_jobs_refuses_naive_times(app: Conveyor, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        await app.list_jobs(**{field: datetime(2026, 1, 1)})
    assert info.value.field == field


async def test_counts_by_queue_and_state(app: Conveyor, ok: Task[Any], broken: Task[Any]) -> None:
    await ok.enqueue_many([Ping(n=i) for i in range(3)])
    await broken.enqueue(Ping())
    await drain(app, queues=["default"])

    counts = {(c.queue, c.state): c.count for c in await app.counts()}

    assert counts == {("fast", JobState.AVAILABLE): 3, ("default", JobState.FAILED): 1}
