"""Cancelling a running job: the handler is stopped and the job stays cancelled."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, JobContext, JobState, Task
from conveyor.errors import LeaseLost
from tests.worker.helpers import running


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
            probe.cancelled_at = time.monotonic()
            probe.saw_cancel.set()
            raise
        return "not cancelled"

    def spins(payload: Item, ctx: JobContext) -> str:
        probe.loop.call_soon_threadsafe(probe.started.set)
        deadline = time.monotonic() + 3
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        probe.cancelled_at = time.monotonic()
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


async def heartbeats(app: Conveyor) -> list[float]:
    """The moments (``time.monotonic()``) at which the worker's lease extensions returned.

    "Within about one heartbeat" is counted in heartbeats, not in seconds: on a loaded
    machine a 50 ms heartbeat can take far longer, and a time bound would fail for that."""
    store = await app.store()
    extend = store.extend_leases
    returned: list[float] = []

    async def counted(**kwargs: Any) -> list[LeaseLost]:
        lost = await extend(**kwargs)
        returned.append(time.monotonic())
        return lost

    store.extend_leases = counted  # type: ignore[method-assign]
    return returned


def beats_between(beats: list[float], start: float, end: float | None) -> int:
    assert end is not None
    return sum(start < moment <= end for moment in beats)


async def test_cancelling_a_running_async_job_stops_its_handler(rig: Rig) -> None:
    probe = rig.probe
    job = await rig.waits.enqueue(Item())
    beats = await heartbeats(rig.app)

    async with running(rig.app) as run:
        await asyncio.wait_for(probe.started.wait(), timeout=3)
        cancelled_at = time.monotonic()
        assert (await rig.app.cancel(job.id)).state is JobState.CANCELLED

        # The next heartbeat finds the lease gone and cancels the handler: at most the one
        # in flight during the cancel and the one after it return before the handler stops.
        await asyncio.wait_for(probe.saw_cancel.wait(), timeout=30)  # a hang guard only
        assert 1 <= beats_between(beats, cancelled_at, probe.cancelled_at) <= 2

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
    beats = await heartbeats(rig.app)

    async with running(rig.app) as run:
        await asyncio.wait_for(probe.started.wait(), timeout=3)
        cancelled_at = time.monotonic()
        await rig.app.cancel(job.id)

        await asyncio.wait_for(probe.finished.wait(), timeout=30)  # a hang guard only
        assert probe.sync_saw_cancelled is True  # before its own 3 s deadline
        assert 1 <= beats_between(beats, cancelled_at, probe.cancelled_at) <= 2

        other = await rig.noop.enqueue(Item(n=1))
        await run.acked(1)
        assert probe.ran == [other.id]

    after = await rig.app.get_job(job.id)
    assert after.state is JobState.CANCELLED, "the handler's return overwrote the cancellation"
    assert after.result is None
    assert after.errors == ()
