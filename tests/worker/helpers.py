"""Helpers for the worker tests: fast options, a running worker, bounded polling."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from conveyor import Conveyor, JobState
from conveyor.worker.worker import Worker, WorkerOptions

FAST = WorkerOptions(
    poll_interval=timedelta(milliseconds=50),
    heartbeat_interval=timedelta(milliseconds=50),
    rescue_interval=timedelta(milliseconds=100),
    idle_timeout=timedelta(milliseconds=200),
    drain_timeout=timedelta(seconds=2),
)


def fast_options(**changes: Any) -> WorkerOptions:
    """Short intervals so that tests are quick; ``changes`` override single fields."""
    return replace(FAST, **changes)


@dataclass
class Running:
    """A worker whose ``run()`` is a task of the test's loop."""

    worker: Worker
    task: asyncio.Task[None]

    async def acked(self, count: int, timeout: float = 4.0) -> None:
        """Wait for ``count`` acks; fail fast (with the worker's own error) if it died."""
        waiter = asyncio.ensure_future(self.worker.wait_acked(count))
        done, _ = await asyncio.wait(
            {waiter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter in done:
            return
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        if self.task.done():
            self.task.result()  # re-raises whatever ended the worker
            raise AssertionError("the worker stopped before the acks arrived")
        raise AssertionError(
            f"only {self.worker.acked_count} of {count} acks were written after {timeout} s"
        )

    async def stop(self, timeout: float = 4.0) -> None:
        self.worker.stop()
        await asyncio.wait_for(self.task, timeout)


@contextlib.asynccontextmanager
async def running(app: Conveyor, options: WorkerOptions | None = None) -> AsyncIterator[Running]:
    """Start ``Worker(app, options).run()`` as a task; stop it and await it on exit."""
    worker = Worker(app, options or fast_options())
    run = Running(worker, asyncio.create_task(worker.run()))
    try:
        yield run
    finally:
        if not run.task.done():
            await run.stop()
        else:
            run.task.result()


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 3.0,
    what: str = "condition",
) -> None:
    """Re-check ``check`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(0.02)


async def state_counts(app: Conveyor) -> dict[JobState, int]:
    """How many jobs are in each state, over every queue (states with none are left out)."""
    totals: Counter[JobState] = Counter()
    for row in await app.counts():
        totals[row.state] += row.count
    return {state: count for state, count in totals.items() if count}
