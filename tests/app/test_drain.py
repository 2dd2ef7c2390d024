"""conveyor.testing.drain: jobs run inline with results, retries, discards and timeouts."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Discard, JobContext, JobState, Progress, Retry, Task
from conveyor.clock import FrozenClock
from conveyor.testing import drain


class Numbers(pydantic.BaseModel):
    a: int
    b: int


class Total(pydantic.BaseModel):
    total: int
    label: str


class Nothing(pydantic.BaseModel):
    pass


async def add_async(payload: Numbers, ctx: JobContext) -> dict[str, Any]:
    return {"sum": payload.a + payload.b, "job": ctx.job_id, "attempt": ctx.attempt}


def add_sync(payload: Numbers) -> Total:
    return Total(total=payload.a + payload.b, label="sync")


async def returns_nothing(payload: Nothing) -> None:
    return None


async def asks_to_retry(payload: Nothing) -> None:
    raise Retry(delay=60, reason="upstream busy")


def discards(payload: Nothing) -> None:
    raise Discard("customer deleted")


async def breaks(payload: Nothing) -> None:
    raise ValueError("boom")


async def hangs(payload: Nothing) -> None:
    await asyncio.Event().wait()  # never set: only the timeout ends this attempt


class SyncHang:
    """What the blocking sync handler saw; reset by the test that uses it."""

    release = threading.Event()
    finished = threading.Event()
    saw_cancelled: list[bool] = []


def hangs_sync(payload: Nothing, ctx: JobContext) -> None:
    SyncHang.release.wait(30)
    SyncHang.saw_cancelled.append(ctx.cancelled)
    SyncHang.finished.set()


outcomes: list[Any] = [None]


async def returns_stored(payload: Nothing) -> Any:
    return outcomes[0]


async def checkpoints_stored(payload: Nothing, ctx: JobContext) -> None:
    await ctx.save_checkpoint(outcomes[0])


async def resumes(payload: Nothing, ctx: JobContext) -> dict[str, Any]:
    if ctx.checkpoint is None:
        await ctx.save_checkpoint({"step": 1})
        raise ValueError("crashed after step 1")
    return {"resumed_from": ctx.checkpoint, "attempt": ctx.attempt}


async def reports(payload: Nothing, ctx: JobContext) -> str:
    await ctx.progress(5, 10)
    await ctx.save_checkpoint({"cursor": 7, "seen": ["a", "b"]})
    assert ctx.checkpoint == {"cursor": 7, "seen": ["a", "b"]}
    return {"reported": True}


async def test_an_async_handler_completes_with_its_result(
    app: Conveyor, clock: FrozenClock
) -> None:
    task = app.task(add_async)
    job = await task.enqueue(Numbers(a=2, b=3))

    assert await drain(app) == 1

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"sum": 5, "job": job.id, "attempt": 1}
    assert done.attempt == 1
    assert done.errors == ()
    assert done.started_at == clock.now()
    assert done.finished_at == clock.now()
    assert done.lease is None


async def test_a_sync_handler_returning_a_model_stores_it_dumped(app: Conveyor) -> None:
    task = app.task(add_sync)
    job = await task.enqueue(Numbers(a=40, b=2))

    assert await drain(app) == 1

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"total": 42, "label": "sync"}


async def test_a_handler_returning_none_completes_with_no_result(app: Conveyor) -> None:
    job = await app.task(returns_nothing).enqueue(Nothing())
    await drain(app)
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result is None


async def test_drain_with_nothing_to_do_returns_zero(app: Conveyor) -> None:
    app.task(add_async)
    assert await drain(app) == 0


async def test_retry_reschedules_the_job_after_its_delay(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.task(asks_to_retry).enqueue(Nothing())

    assert await drain(app) == 1

    waiting = await app.get_job(job.id)
    assert waiting.state is JobState.RETRYING
    assert waiting.run_at == clock.now() + timedelta(seconds=60)
    assert waiting.run_at > clock.now()
    assert waiting.finished_at is None
    assert [(e.attempt, e.type, e.message) for e in waiting.errors] == [
        (1, "Retry", "upstream busy")
    ]
    # Not due yet: a second drain leaves it alone.
    assert await drain(app) == 0
    clock.advance(timedelta(seconds=61))
    assert await drain(app) == 1
    assert (await app.get_job(job.id)).attempt == 2


async def test_discard_fails_the_job_for_good(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.task(max_attempts=5)(discards).enqueue(Nothing())

    assert await drain(app) == 1

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert failed.finished_at == clock.now()
    assert len(failed.errors) == 1
    assert failed.errors[0].type == "Discard"
    assert failed.errors[0].message == "customer deleted"
    clock.advance(timedelta(days=1))
    assert await drain(app) == 0


async def test_an_exception_retries_then_fails_after_max_attempts(
    app: Conveyor, clock: FrozenClock
) -> None:
    job = await app.task(max_attempts=2)(breaks).enqueue(Nothing())

    assert await drain(app) == 1
    first = await app.get_job(job.id)
    assert first.state is JobState.RETRYING
    assert first.run_at > clock.now()
    assert first.attempt == 1
    assert [e.type for e in first.errors] == ["ValueError"]
    assert "boom" in first.errors[0].message
    assert "ValueError" in first.errors[0].traceback
    assert await drain(app) == 0, "the retry is not due yet"

    clock.advance(timedelta(hours=2))  # past any backoff
    assert await drain(app) == 1

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert failed.attempt == 2
    assert failed.finished_at == clock.now()
    assert [(e.attempt, e.type) for e in failed.errors] == [(1, "ValueError"), (2, "ValueError")]
    clock.advance(timedelta(days=1))
    assert await drain(app) == 0


async def test_an_async_handler_past_its_timeout_fails_with_job_timeout(app: Conveyor) -> None:
    job = await app.task(timeout=0.05, max_attempts=1)(hangs).enqueue(Nothing())

    assert await drain(app) == 1

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert [e.type for e in failed.errors] == ["JobTimeout"]
    assert "timeout" in failed.errors[0].message


async def test_a_timed_out_attempt_is_retried_while_attempts_remain(
    app: Conveyor, clock: FrozenClock
) -> None:
    job = await app.task(timeout=0.05, max_attempts=2)(hangs).enqueue(Nothing())

    await drain(app)

    waiting = await app.get_job(job.id)
    assert waiting.state is JobState.RETRYING
    assert waiting.run_at > clock.now()
    assert [e.type for e in waiting.errors] == ["JobTimeout"]


async def test_a_sync_handler_past_its_timeout_fails_and_sees_cancelled(app: Conveyor) -> None:
    SyncHang.release.clear()
    SyncHang.finished.clear()
    SyncHang.saw_cancelled.clear()
    job = await app.task(timeout=0.05, max_attempts=1)(hangs_sync).enqueue(Nothing())

    try:
        assert await drain(app) == 1
    finally:
        SyncHang.release.set()
    assert await asyncio.to_thread(SyncHang.finished.wait, 10)

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert [e.type for e in failed.errors] == ["JobTimeout"]
    assert SyncHang.saw_cancelled == [True], "ctx.cancelled tells a sync handler to stop"


async def test_progress_and_checkpoint_persist(app: Conveyor) -> None:
    job = await app.task(reports).enqueue(Nothing())

    await drain(app)

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"reported": True}
    assert done.progress == Progress(5, 10)
    assert done.checkpoint == {"cursor": 7, "seen": ["a", "b"]}
    data = done.to_json()
    assert data["progress"] == {"done": 5, "total": 10}
    assert data["checkpoint"] == {"cursor": 7, "seen": ["a", "b"]}


async def test_a_raising_handler_does_not_stop_the_others(app: Conveyor) -> None:
    good = app.task(add_async)
    bad = app.task(breaks)
    jobs = [
        await good.enqueue(Numbers(a=1, b=1)),
        await bad.enqueue(Nothing()),
        await good.enqueue(Numbers(a=2, b=2)),
        await app.task(discards).enqueue(Nothing()),
        await good.enqueue(Numbers(a=3, b=3)),
    ]

    assert await drain(app) == 5

    states = [(await app.get_job(j.id)).state for j in jobs]
    assert states == [
        JobState.COMPLETED,
        JobState.RETRYING,
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.COMPLETED,
    ]
    results = [(await app.get_job(j.id)).result for j in jobs[::2]]
    assert [r["sum"] for r in results] == [2, 4, 6]


async def test_drain_runs_in_priority_order_and_respects_max_jobs(app: Conveyor) -> None:
    task = app.task(add_async)
    low = await task.enqueue(Numbers(a=0, b=0), priority=10)
    high = await task.enqueue(Numbers(a=0, b=1), priority=-10)

    assert await drain(app, max_jobs=1) == 1

    assert (await app.get_job(high.id)).state is JobState.COMPLETED
    assert (await app.get_job(low.id)).state is JobState.AVAILABLE
    assert await drain(app) == 1


async def test_drain_only_the_given_queues(app: Conveyor) -> None:
    task = app.task(add_async)
    mail = await task.enqueue(Numbers(a=1, b=1), queue="mail")
    other = await task.enqueue(Numbers(a=1, b=1), queue="other")

    assert await drain(app, queues=["mail"]) == 1

    assert (await app.get_job(mail.id)).state is JobState.COMPLETED
    assert (await app.get_job(other.id)).state is JobState.AVAILABLE


async def test_a_scheduled_job_runs_once_due(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.task(add_async).enqueue(Numbers(a=1, b=2), delay=timedelta(minutes=5))

    assert await drain(app) == 0
    clock.advance(timedelta(minutes=5))
    assert await drain(app) == 1
    assert (await app.get_job(job.id)).state is JobState.COMPLETED


async def test_drain_runs_more_jobs_than_one_batch(app: Conveyor) -> None:
    task: Task[Any] = app.task(add_async)
    await task.enqueue_many([Numbers(a=i, b=0) for i in range(25)])

    assert await drain(app, batch_size=10) == 25

    page = await app.list_jobs(state="completed", limit=100)
    assert len(page.jobs) == 25


@pytest.mark.parametrize("result", [{"nested": [1, 2, {"x": None}]}, [1, "two"], 3.5, "text"])
async def test_json_results_round_trip(app: Conveyor, result: Any) -> None:
    # Any JSON value a handler returns comes back as it was.
    outcomes[0] = result
    job = await app.task(returns_stored).enqueue(Nothing())
    await drain(app)
    assert (await app.get_job(job.id)).result == result


@pytest.mark.parametrize("checkpoint", [{"page": 3}, [1, 2], 7, "cursor-abc", True])
async def test_json_checkpoints_round_trip(app: Conveyor, checkpoint: Any) -> None:
    outcomes[0] = checkpoint
    job = await app.task(checkpoints_stored).enqueue(Nothing())
    await drain(app)
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.checkpoint == checkpoint


async def test_a_job_of_a_task_this_app_does_not_register_waits_for_another_worker(
    app: Conveyor, store_url: str, clock: FrozenClock
) -> None:
    job = await app.task(add_async).enqueue(Numbers(a=1, b=1))
    other = Conveyor(store_url, clock=clock)  # the same database, without the task
    try:
        assert await drain(other) == 1
    finally:
        await other.close()

    waiting = await app.get_job(job.id)
    assert waiting.state is JobState.RETRYING
    assert waiting.run_at > clock.now()
    assert [e.type for e in waiting.errors] == ["LookupError"]
    assert job.task in waiting.errors[0].message
    clock.advance(timedelta(hours=1))
    assert await drain(app) == 1
    assert (await app.get_job(job.id)).state is JobState.COMPLETED


async def test_retry_on_the_last_attempt_fails_the_job(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.task(max_attempts=1)(asks_to_retry).enqueue(Nothing())

    assert await drain(app) == 1

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert failed.finished_at == clock.now()
    assert [e.type for e in failed.errors] == ["Retry"]


async def test_a_later_attempt_reads_the_checkpoint_back(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.task(resumes).enqueue(Nothing())

    await drain(app)
    first = await app.get_job(job.id)
    assert first.state is JobState.RETRYING
    assert first.checkpoint == {"step": 1}
    clock.advance(timedelta(hours=1))
    await drain(app)

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"resumed_from": {"step": 1}, "attempt": 2}
