"""Worker execution: throughput, sync handlers, failures, Retry/Discard and timeouts."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Discard, JobContext, JobState, Retry, RetryPolicy, Task
from conveyor.worker.worker import Worker, WorkerOptions
from tests.worker.helpers import running, state_counts

NO_BACKOFF = RetryPolicy(base_delay=timedelta(0), jitter=0)


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Probe:
    """What the handlers saw."""

    runs: Counter[int] = field(default_factory=Counter)
    threads: list[int] = field(default_factory=list)
    timeout_starts: int = 0
    never: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Rig:
    app: Conveyor
    probe: Probe
    noop: Task[Item]
    sync_add: Task[Item]
    always_fails: Task[Item]
    retries_once: Task[Item]
    discards: Task[Item]
    hangs: Task[Item]


@pytest.fixture
def rig(app: Conveyor) -> Rig:
    probe = Probe()

    async def noop(payload: Item, ctx: JobContext) -> None:
        probe.runs[ctx.job_id] += 1

    def sync_add(payload: Item) -> dict[str, Any]:
        probe.threads.append(threading.get_ident())
        return {"double": payload.n * 2}

    async def always_fails(payload: Item) -> None:
        raise ValueError(f"broken #{payload.n}")

    async def retries_once(payload: Item, ctx: JobContext) -> dict[str, int]:
        if ctx.attempt == 1:
            raise Retry(delay=0, reason="not yet")
        return {"attempt": ctx.attempt}

    async def discards(payload: Item) -> None:
        raise Discard("bounced")

    async def hangs(payload: Item) -> None:
        probe.timeout_starts += 1
        await probe.never.wait()  # never set: only the task's timeout ends the attempt

    return Rig(
        app=app,
        probe=probe,
        noop=app.task(name="w.noop", payload=Item)(noop),
        sync_add=app.task(name="w.sync_add", payload=Item)(sync_add),
        always_fails=app.task(
            name="w.always_fails", payload=Item, max_attempts=3, retry=NO_BACKOFF
        )(always_fails),
        retries_once=app.task(name="w.retries_once", payload=Item, max_attempts=3)(retries_once),
        discards=app.task(name="w.discards", payload=Item, max_attempts=3)(discards),
        hangs=app.task(name="w.hangs", payload=Item, timeout=0.2, max_attempts=2, retry=NO_BACKOFF)(
            hangs
        ),
    )


async def test_five_hundred_jobs_each_complete_exactly_once(rig: Rig) -> None:
    jobs = await rig.noop.enqueue_many([Item(n=i) for i in range(500)])

    async with running(rig.app) as run:
        await run.acked(500, timeout=4)
        worker = run.worker

    assert await state_counts(rig.app) == {JobState.COMPLETED: 500}
    assert worker.completed == 500
    assert worker.acked_count == 500
    assert set(rig.probe.runs) == {job.id for job in jobs}
    assert set(rig.probe.runs.values()) == {1}, "some job ran more than once"


async def test_a_sync_handler_runs_in_a_thread_and_completes(rig: Rig) -> None:
    job = await rig.sync_add.enqueue(Item(n=21))

    async with running(rig.app) as run:
        await run.acked(1)

    done = await rig.app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"double": 42}
    assert done.attempt == 1
    assert len(rig.probe.threads) == 1
    assert rig.probe.threads[0] != threading.get_ident(), "ran on the event loop's thread"


async def test_a_failing_job_ends_failed_while_the_worker_keeps_serving(rig: Rig) -> None:
    broken = await rig.always_fails.enqueue(Item(n=7))
    ok = await rig.noop.enqueue_many([Item(n=i) for i in range(50)])

    async with running(rig.app) as run:
        await run.acked(3 + 50)  # three attempts of the broken job, one per ok job

    failed = await rig.app.get_job(broken.id)
    assert failed.state is JobState.FAILED
    assert failed.attempt == 3
    assert [(e.attempt, e.type, e.message) for e in failed.errors] == [
        (1, "ValueError", "broken #7"),
        (2, "ValueError", "broken #7"),
        (3, "ValueError", "broken #7"),
    ]
    assert failed.finished_at is not None
    assert failed.lease is None
    assert await state_counts(rig.app) == {JobState.COMPLETED: 50, JobState.FAILED: 1}
    assert set(rig.probe.runs) == {job.id for job in ok}


async def test_retry_then_success_and_discard(rig: Rig) -> None:
    retried = await rig.retries_once.enqueue(Item())
    discarded = await rig.discards.enqueue(Item())

    async with running(rig.app) as run:
        await run.acked(3)  # Retry + success, and the discard

    done = await rig.app.get_job(retried.id)
    assert done.state is JobState.COMPLETED
    assert done.attempt == 2
    assert done.result == {"attempt": 2}
    assert [(e.attempt, e.type, e.message) for e in done.errors] == [(1, "Retry", "not yet")]

    failed = await rig.app.get_job(discarded.id)
    assert failed.state is JobState.FAILED
    assert failed.attempt == 1
    assert [(e.attempt, e.type, e.message) for e in failed.errors] == [(1, "Discard", "bounced")]


async def test_an_attempt_past_its_timeout_fails_with_job_timeout_and_is_retried(
    rig: Rig,
) -> None:
    job = await rig.hangs.enqueue(Item())

    async with running(rig.app) as run:
        await run.acked(2)  # both attempts time out after 0.2 s

    failed = await rig.app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert failed.attempt == 2
    assert [(e.attempt, e.type) for e in failed.errors] == [(1, "JobTimeout"), (2, "JobTimeout")]
    assert all("timeout" in e.message for e in failed.errors)
    assert rig.probe.timeout_starts == 2


async def test_an_immediate_retry_runs_again_without_waiting_for_the_poll(store_url: str) -> None:
    app = Conveyor(store_url)
    attempts: list[int] = []

    async def flaky(payload: Item, ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise Retry(delay=0)
        return "second time lucky"

    app.task(name="flaky", payload=Item, max_attempts=3)(flaky)
    worker = Worker(app, WorkerOptions(poll_interval=timedelta(seconds=10)))
    task = asyncio.create_task(worker.run())
    try:
        job = await app.enqueue("flaky", Item())
        await asyncio.wait_for(worker.wait_acked(2), timeout=3)  # far less than the 10 s poll
        done = await app.get_job(job.id)
        assert (done.state, done.attempt, attempts) == (JobState.COMPLETED, 2, [1, 2])
    finally:
        worker.stop()
        await task
        await app.close()
