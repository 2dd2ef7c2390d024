"""Executors scale up with the backlog to max_concurrency and retire when idle."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

import pydantic
import pytest

from conveyor import Conveyor, JobState, Task
from tests.worker.helpers import eventually, fast_options, running, state_counts


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Probe:
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    eight_running: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    peak: int = 0
    started: int = 0


@dataclass
class Rig:
    app: Conveyor
    probe: Probe
    gated: Task[Item]


@pytest.fixture
def rig(app: Conveyor) -> Rig:
    probe = Probe()

    async def gated(payload: Item) -> None:
        probe.started += 1
        probe.running += 1
        probe.peak = max(probe.peak, probe.running)
        if probe.running == 8:
            probe.eight_running.set()
        try:
            await probe.gate.wait()
        finally:
            probe.running -= 1

    return Rig(app=app, probe=probe, gated=app.task(name="a.gated", payload=Item)(gated))


async def test_executors_scale_to_max_concurrency_and_back_to_one(rig: Rig) -> None:
    probe = rig.probe
    await rig.gated.enqueue_many([Item(n=i) for i in range(20)])
    # A long poll: an executor pool that shrank below one would stay empty until it.
    options = fast_options(
        max_concurrency=8, scaling_threshold=1, poll_interval=timedelta(seconds=1)
    )

    async with running(rig.app, options) as run:
        worker = run.worker
        assert worker.executor_count <= 1
        await asyncio.wait_for(probe.eight_running.wait(), timeout=30)  # hang guard
        assert worker.executor_count == 8
        assert worker.running_count == 8
        assert probe.started == 8, "more jobs started than max_concurrency allows"

        fewest = worker.executor_count

        async def sample() -> None:
            nonlocal fewest
            while True:
                fewest = min(fewest, worker.executor_count)
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        try:
            probe.gate.set()
            await run.acked(20)
            assert probe.peak == 8
            assert probe.started == 20
            await eventually(lambda: worker.running_count == 0, what="all executors idle")
            # Idle executors above the minimum retire after idle_timeout (0.2 s).
            await eventually(
                lambda: worker.executor_count == 1, timeout=20, what="back to one executor"
            )
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        assert worker.executor_count == 1
        assert fewest >= 1, "every executor retired at once: the pool went empty"

    assert await state_counts(rig.app) == {JobState.COMPLETED: 20}
