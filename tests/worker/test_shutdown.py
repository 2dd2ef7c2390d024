"""Graceful stop: running jobs get the drain timeout, then are handed back uncounted."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, JobContext, JobState, LeaseLost, Task
from tests.worker.helpers import fast_options, running


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Probe:
    loop: asyncio.AbstractEventLoop
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    sync_finished: asyncio.Event = field(default_factory=asyncio.Event)
    sync_saw_cancelled: bool | None = None


@dataclass
class Rig:
    app: Conveyor
    probe: Probe
    blocks: Task[Item]
    spins: Task[Item]


@pytest.fixture
async def rig(app: Conveyor) -> Rig:
    probe = Probe(loop=asyncio.get_running_loop())

    async def blocks(payload: Item) -> str:
        probe.started.set()
        try:
            await probe.release.wait()
        except asyncio.CancelledError:
            probe.interrupted.set()
            raise
        return "finished"

    def spins(payload: Item, ctx: JobContext) -> str:
        probe.loop.call_soon_threadsafe(probe.started.set)
        deadline = time.monotonic() + 3
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        probe.sync_saw_cancelled = ctx.cancelled
        probe.loop.call_soon_threadsafe(probe.sync_finished.set)
        return "spun"

    return Rig(
        app=app,
        probe=probe,
        blocks=app.task(name="s.blocks", payload=Item)(blocks),
        spins=app.task(name="s.spins", payload=Item)(spins),
    )


async def test_stop_hands_a_job_back_once_the_drain_timeout_passes(rig: Rig) -> None:
    job = await rig.blocks.enqueue(Item())
    options = fast_options(drain_timeout=timedelta(milliseconds=100))

    async with running(rig.app, options) as run:
        await asyncio.wait_for(rig.probe.started.wait(), timeout=3)
        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        await run.stop(timeout=3)
        elapsed = loop.time() - stopped_at

    assert elapsed < 1.0, f"stop took {elapsed:.2f} s with a 0.1 s drain timeout"
    assert rig.probe.interrupted.is_set(), "the handler was not cancelled"
    back = await rig.app.get_job(job.id)
    assert back.state is JobState.AVAILABLE
    assert back.attempt == 0, "a handed-back attempt must not count"
    assert back.lease_token is None
    assert back.lease_expires_at is None
    assert back.lease is None
    assert back.errors == ()
    assert back.finished_at is None
    assert run.worker.acked_count == 0


async def test_a_job_that_finishes_within_the_drain_timeout_completes(rig: Rig) -> None:
    job = await rig.blocks.enqueue(Item())
    options = fast_options(drain_timeout=timedelta(seconds=3))

    async with running(rig.app, options) as run:
        await asyncio.wait_for(rig.probe.started.wait(), timeout=3)
        run.worker.stop()
        # The worker waits for the running job instead of stopping or handing it back.
        done, _ = await asyncio.wait({run.task}, timeout=0.2)
        assert not done, "the worker stopped without waiting for its running job"
        rig.probe.release.set()
        await asyncio.wait_for(run.task, timeout=3)

    assert not rig.probe.interrupted.is_set()
    finished = await rig.app.get_job(job.id)
    assert finished.state is JobState.COMPLETED
    assert finished.result == "finished"
    assert finished.attempt == 1
    assert run.worker.acked_count == 1


async def test_a_sync_job_past_the_drain_timeout_is_told_to_stop_and_handed_back(
    rig: Rig,
) -> None:
    job = await rig.spins.enqueue(Item())
    options = fast_options(drain_timeout=timedelta(milliseconds=100))

    async with running(rig.app, options) as run:
        await asyncio.wait_for(rig.probe.started.wait(), timeout=3)
        await run.stop(timeout=3)

    # The job was handed back for another worker: its thread must stop working on it.
    await asyncio.wait_for(rig.probe.sync_finished.wait(), timeout=1)
    assert rig.probe.sync_saw_cancelled is True
    back = await rig.app.get_job(job.id)
    assert back.state is JobState.AVAILABLE
    assert back.attempt == 0
    assert back.lease is None
    assert back.errors == ()
    assert run.worker.acked_count == 0


async def test_stop_ends_even_if_a_store_call_swallows_its_cancellation(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Python 3.11 ``asyncio.wait_for`` drops a cancellation that arrives as its inner
    wait finishes (CPython gh-86296); psycopg_pool waits for a connection that way. A loop
    cancelled inside such a call carries on: stop() must still end."""
    job = await rig.blocks.enqueue(Item())
    store = await rig.app.store()
    extend = store.extend_leases
    inside = asyncio.Event()
    swallowed: list[bool] = []

    async def extend_swallowing_one_cancel(**kwargs: Any) -> list[LeaseLost]:
        if swallowed:
            return await extend(**kwargs)
        inside.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append(True)  # and return as if the call had just finished
        return []

    monkeypatch.setattr(store, "extend_leases", extend_swallowing_one_cancel)
    options = fast_options(drain_timeout=timedelta(milliseconds=100))

    async with running(rig.app, options) as run:
        await asyncio.wait_for(rig.probe.started.wait(), timeout=3)
        await asyncio.wait_for(inside.wait(), timeout=3)  # the heartbeat is in the call
        await run.stop(timeout=3)

    assert swallowed == [True]
    assert (await rig.app.get_job(job.id)).state is JobState.AVAILABLE
