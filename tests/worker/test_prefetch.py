"""Prefetch: short jobs are claimed ahead of free slots, long ones only for free slots."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pydantic

from conveyor import Conveyor, JobState
from conveyor.worker.worker import Worker
from tests.worker.helpers import eventually, fast_options, running, state_counts


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Peaks:
    running: int = 0
    most_running: int = 0
    most_held: int = 0


def counted(peaks: Peaks, worker: Callable[[], Worker | None], seconds: float) -> object:
    """A handler that runs ``seconds`` and records the most jobs running and held."""

    async def handler(payload: Item) -> None:
        peaks.running += 1
        peaks.most_running = max(peaks.most_running, peaks.running)
        current = worker()
        if current is not None:
            peaks.most_held = max(peaks.most_held, current.held_count)
        try:
            await asyncio.sleep(seconds)
        finally:
            peaks.running -= 1

    return handler


async def drain_short_jobs(app: Conveyor, *, max_prefetch: int | None) -> Peaks:
    peaks = Peaks()
    holder: list[Worker] = []
    short = app.task(name="p.short", payload=Item)(
        counted(peaks, lambda: holder[0] if holder else None, 0.001)
    )
    await short.enqueue_many([Item(n=i) for i in range(600)])
    options = fast_options(max_concurrency=10, max_prefetch=max_prefetch)
    async with running(app, options) as run:
        holder.append(run.worker)
        await run.acked(600, timeout=20)
    assert await state_counts(app) == {JobState.COMPLETED: 600}
    return peaks


async def test_short_jobs_are_claimed_ahead_of_free_slots(app: Conveyor) -> None:
    peaks = await drain_short_jobs(app, max_prefetch=None)
    assert peaks.most_running <= 10, "prefetched jobs must wait, not run beyond the limit"
    # Ten 1 ms jobs end about every millisecond: any claim round trip from 0.1 ms up
    # would leave a slot idle, so some jobs are kept ready.
    assert peaks.most_held > 10, peaks
    assert peaks.most_held <= 20  # max_prefetch defaults to max_concurrency


async def test_no_prefetch_when_turned_off(app: Conveyor) -> None:
    peaks = await drain_short_jobs(app, max_prefetch=0)
    assert peaks.most_running <= 10
    assert peaks.most_held <= 10


async def test_jobs_that_outlast_claims_are_claimed_only_for_free_slots(app: Conveyor) -> None:
    gate = asyncio.Event()
    started = 0

    async def gated(payload: Item) -> None:
        nonlocal started
        started += 1
        await gate.wait()

    task = app.task(name="p.gated", payload=Item)(gated)
    await task.enqueue_many([Item(n=i) for i in range(30)])
    async with running(app, fast_options(max_concurrency=4)) as run:
        await eventually(lambda: started == 4, what="four jobs running")
        # Several polls later nothing more is held: no run ended while a claim was in
        # flight, so the other 26 jobs stay free for other workers.
        await asyncio.sleep(0.3)
        assert run.worker.held_count == 4
        gate.set()
        await run.acked(30)
    assert await state_counts(app) == {JobState.COMPLETED: 30}
