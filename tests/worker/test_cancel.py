"""Cancelling a running job: the handler is stopped and the job stays cancelled."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pydantic
import pytest

from conveyor import Conveyor, JobContext, JobState, Task
from tests.worker.helpers import running

HEARTBEAT = 0.05


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Probe:
    loop: asyncio.AbstractEventLoop
    started: asyncio.Event = field(default_factory=asyncio.Event)
    saw_cancel: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    never: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled_at: float | None = None
    sync_saw_cancelled: bool | None = None
    ran: list[int] = field(default_factory=list)


@dataclass
class Rig:
    app: Conveyor
    probe: Probe
    waits: Task[Item]
    spins: Task[Item]
    noop: Task[Item]


@pytest.fixture
async def rig(app: Conveyor) -> Rig:
    probe = Probe(loop=asyncio.get_running_loop())

    async def waits(payload: Item) -> str:
        probe.started.set()
        try:
            await probe.never.wait()
        except asyncio.CancelledError:
            probe.cancelled_at = probe.loop.time()
            probe.saw_cancel.set()
            raise
        return "not cancelled"

    def spins(payload: Item, ctx: JobContext) -> str:
        probe.loop.call_soon_threadsafe(probe.started.set)
        deadline = time.monotonic() + 3
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        probe.sync_saw_cancelled = ctx.cancelled
        probe.loop.call_soon_threadsafe(probe.finished.set)
        return "returned anyway"

    async def noop(payload: Item, ctx: JobContext) -> None:
        probe.ran.append(ctx.job_id)

    return Rig(
        app=app,
        probe=probe,
        waits=app.task(name="c.waits", payload=Item)(waits),
        spins=app.task(name="c.spins", payload=Item)(spins),
        noop=app.task(name="c.noop", payload=Item)(noop),
    )


async def test_cancelling_a_running_async_job_stops_its_handler(rig: Rig) -> None:
    probe = rig.probe
    job = await rig.waits.enqueue(Item())

    async with running(rig.app) as run:
        await asyncio.wait_for(probe.started.wait(), timeout=3)
        cancelled_at = probe.loop.time()
        assert (await rig.app.cancel(job.id)).state is JobState.CANCELLED

        # The next heartbeat finds the lease gone and cancels the handler.
        await asyncio.wait_for(probe.saw_cancel.wait(), timeout=10 * HEARTBEAT)
        assert probe.cancelled_at is not None
        assert probe.cancelled_at - cancelled_at < 10 * HEARTBEAT

        # The worker goes on serving; its acks (in order) are flushed after any late one.
        other = await rig.noop.enqueue(Item(n=1))
        await run.acked(1)
        assert probe.ran == [other.id]
        assert run.worker.running_count == 0

    after = await rig.app.get_job(job.id)
    assert after.state is JobState.CANCELLED, "a late ack overwrote the cancellation"
    assert after.errors == ()
    assert after.result is None
    assert after.lease is None
    assert (await rig.app.get_job(other.id)).state is JobState.COMPLETED


async def test_cancelling_a_running_sync_job_sets_ctx_cancelled(rig: Rig) -> None:
    probe = rig.probe
    job = await rig.spins.enqueue(Item())

    async with running(rig.app) as run:
        await asyncio.wait_for(probe.started.wait(), timeout=3)
        await rig.app.cancel(job.id)

        await asyncio.wait_for(probe.finished.wait(), timeout=10 * HEARTBEAT)
        assert probe.sync_saw_cancelled is True

        other = await rig.noop.enqueue(Item(n=1))
        await run.acked(1)
        assert probe.ran == [other.id]

    after = await rig.app.get_job(job.id)
    assert after.state is JobState.CANCELLED, "the handler's return overwrote the cancellation"
    assert after.result is None
    assert after.errors == ()
