"""JobChannel: jobs come out in order, and idle executors are woken one at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from conveyor.job import Job, JobState
from conveyor.worker.channel import SPREAD, JobChannel

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def jobs(count: int) -> list[Job]:
    return [
        Job(
            id=i,
            task="t",
            queue="default",
            state=JobState.RUNNING,
            payload={},
            priority=0,
            attempt=1,
            max_attempts=3,
            run_at=NOW,
            created_at=NOW,
        )
        for i in range(1, count + 1)
    ]


async def test_jobs_come_out_in_the_order_they_went_in() -> None:
    channel = JobChannel()
    channel.put_many(jobs(3))
    assert channel.qsize() == 3
    assert [(await channel.get()).id for _ in range(3)] == [1, 2, 3]
    assert channel.empty()


async def test_a_batch_run_by_one_executor_without_awaiting_wakes_few_others() -> None:
    """Executors that take a job and run it without awaiting (a no-op handler): the first
    one woken runs the whole batch, and only the few it woke on its way wake in vain."""
    channel = JobChannel()
    ran: dict[int, list[int]] = {n: [] for n in range(10)}

    async def executor(n: int) -> None:
        while True:
            job = await channel.get()
            ran[n].append(job.id)
            while not channel.empty():  # as the worker does: take what waits, no await
                ran[n].append(channel.get_nowait().id)

    tasks = [asyncio.create_task(executor(n)) for n in range(10)]
    await asyncio.sleep(0)  # every executor waits now
    channel.put_many(jobs(100))
    for _ in range(20):
        await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(i for ids in ran.values() for i in ids) == list(range(1, 101))
    assert channel.wakeups <= 1 + SPREAD  # asyncio.Queue woke one executor per job


async def test_jobs_that_await_all_start_within_a_few_turns_of_the_loop() -> None:
    """Handlers that await I/O: every idle executor gets a job of the batch within about
    log2(batch) turns, not one executor a turn."""
    channel = JobChannel()
    started: list[int] = []
    release = asyncio.Event()

    async def executor(n: int) -> None:
        await channel.get()
        started.append(n)
        await release.wait()  # a handler that awaits I/O

    tasks = [asyncio.create_task(executor(n)) for n in range(100)]
    await asyncio.sleep(0)
    channel.put_many(jobs(100))
    turns = 0
    while len(started) < 100 and turns < 1000:
        await asyncio.sleep(0)
        turns += 1
    assert sorted(started) == list(range(100))
    assert turns <= 10
    release.set()
    await asyncio.gather(*tasks)


async def test_a_woken_executor_cancelled_before_it_runs_passes_the_wake_on() -> None:
    channel = JobChannel()
    first = asyncio.create_task(channel.get())
    second = asyncio.create_task(channel.get())
    await asyncio.sleep(0)
    channel.put_many(jobs(1))  # wakes ``first``
    first.cancel()  # its idle timeout fires before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    job = await asyncio.wait_for(second, timeout=30)  # a hang guard only
    assert job.id == 1


async def test_a_cancelled_wait_leaves_no_waiter_behind() -> None:
    channel = JobChannel()
    for _ in range(3):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await channel.get()
    assert not channel._waiters


async def test_a_wait_cancelled_as_jobs_arrive_leaves_without_an_error() -> None:
    """The cancelled waiter is passed over by the wake-up before its task runs."""
    channel = JobChannel()
    first = asyncio.create_task(channel.get())
    second = asyncio.create_task(channel.get())
    await asyncio.sleep(0)
    first.cancel()  # its waiter is cancelled at once; its task runs later
    channel.put_many(jobs(1))  # the wake-up passes over it, to ``second``
    with pytest.raises(asyncio.CancelledError):
        await first
    job = await asyncio.wait_for(second, timeout=30)  # a hang guard only
    assert job.id == 1
    assert not channel._waiters
