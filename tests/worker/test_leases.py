"""Leases: a live worker keeps its jobs; a dead worker's job is rescued and its ack fenced."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, JobContext, JobState, LeaseLost, StoreUnavailable, Task
from conveyor.store.base import Completion
from tests.worker.helpers import eventually, fast_options, running


class Item(pydantic.BaseModel):
    n: int = 0


@dataclass
class Probe:
    attempts: list[int] = field(default_factory=list)
    cancelled: list[bool] = field(default_factory=list)
    first_started: asyncio.Event = field(default_factory=asyncio.Event)
    first_stopped: asyncio.Event = field(default_factory=asyncio.Event)
    second_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Rig:
    app: Conveyor
    probe: Probe
    slow: Task[Item]
    quick: Task[Item]
    held: Task[Item]


@pytest.fixture
def rig(app: Conveyor) -> Rig:
    probe = Probe()

    async def slow(payload: Item, ctx: JobContext) -> str:
        probe.attempts.append(ctx.attempt)
        await asyncio.sleep(1.0)  # the job's work: three lease lifetimes long
        probe.cancelled.append(ctx.cancelled)
        return "slow done"

    async def quick(payload: Item, ctx: JobContext) -> dict[str, int]:
        probe.attempts.append(ctx.attempt)
        return {"attempt": ctx.attempt}

    async def held(payload: Item, ctx: JobContext) -> dict[str, int]:
        probe.attempts.append(ctx.attempt)
        started = probe.first_started if ctx.attempt == 1 else probe.second_started
        started.set()
        try:
            await probe.release.wait()
        except asyncio.CancelledError:
            if ctx.attempt == 1:
                probe.first_stopped.set()
            raise
        return {"attempt": ctx.attempt}

    return Rig(
        app=app,
        probe=probe,
        slow=app.task(name="l.slow", payload=Item)(slow),
        quick=app.task(name="l.quick", payload=Item)(quick),
        held=app.task(name="l.held", payload=Item, max_attempts=5)(held),
    )


async def test_heartbeats_keep_a_long_job_leased_despite_the_rescuer(rig: Rig) -> None:
    job = await rig.slow.enqueue(Item())
    options = fast_options(
        lease_ttl=timedelta(milliseconds=300),
        heartbeat_interval=timedelta(milliseconds=50),
        rescue_interval=timedelta(milliseconds=100),
    )

    async with running(rig.app, options) as run:
        await run.acked(1, timeout=4)

    done = await rig.app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == "slow done"
    assert done.attempt == 1
    assert [e.type for e in done.errors] == [], "the job was rescued while its worker lived"
    assert rig.probe.attempts == [1]
    assert rig.probe.cancelled == [False]


async def test_a_dead_workers_job_is_rescued_and_its_late_ack_rejected(rig: Rig) -> None:
    job = await rig.quick.enqueue(Item())
    store = await rig.app.store()
    # A worker claims the job and dies: nobody will extend this lease.
    [claimed] = await store.claim_jobs(
        queues=None,
        limit=1,
        lease_ttl=timedelta(milliseconds=100),
        worker_id="dead-worker",
        now=rig.app.clock.now(),
    )
    stale = claimed.lease
    assert stale is not None and claimed.attempt == 1

    async with running(rig.app, fast_options(rescue_interval=timedelta(milliseconds=100))) as run:
        await run.acked(1, timeout=4)

    done = await rig.app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.attempt == 2
    assert done.result == {"attempt": 2}
    assert [(e.attempt, e.type) for e in done.errors] == [(1, "LeaseExpired")]
    assert "dead-worker" in done.errors[0].message
    assert rig.probe.attempts == [2]

    outcome = await store.ack_jobs(
        acks=[Completion(job.id, stale.token, "from the dead")], now=rig.app.clock.now()
    )
    assert outcome.acked == []
    assert [(lost.job_id, lost.token) for lost in outcome.lost] == [(job.id, stale.token)]
    after = await rig.app.get_job(job.id)
    assert after.state is JobState.COMPLETED
    assert after.result == {"attempt": 2}


async def test_a_job_rescued_from_its_own_worker_runs_once_more_not_twice_at_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heartbeats fail for longer than the lease (a store outage): the worker's own rescuer
    returns the job and its fetcher claims it again. The stale first run must be stopped,
    and it must not take the new lease with it when it ends."""
    probe = rig.probe
    job = await rig.held.enqueue(Item())
    store = await rig.app.store()
    outage = True

    def failing(extend: Any) -> Any:
        async def failing_extend(**kwargs: Any) -> list[LeaseLost]:
            if outage:
                raise StoreUnavailable("simulated outage")
            return await extend(**kwargs)

        return failing_extend

    monkeypatch.setattr(store, "extend_leases", failing(store.extend_leases))
    # The outage reaches the loop watchdog's own connection too (it renews leases when the
    # loop is slow, which on a busy machine a 200 ms lease makes likely).
    new_store = rig.app.new_store

    def store_in_outage() -> Any:
        other = new_store()
        other.extend_leases = failing(other.extend_leases)  # type: ignore[method-assign]
        return other

    monkeypatch.setattr(rig.app, "new_store", store_in_outage)
    options = fast_options(lease_ttl=timedelta(milliseconds=200))

    async def completed() -> bool:
        return (await rig.app.get_job(job.id)).state is JobState.COMPLETED

    async with running(rig.app, options) as run:
        try:
            await asyncio.wait_for(probe.first_started.wait(), timeout=3)
            await asyncio.wait_for(probe.second_started.wait(), timeout=3)
            outage = False
            # Claiming the job again proves the first lease is gone: stop the first run.
            await asyncio.wait_for(probe.first_stopped.wait(), timeout=1)
            probe.release.set()
            await eventually(completed, what="the job completed")
            await eventually(lambda: run.worker.running_count == 0, what="nothing running")
        finally:
            probe.release.set()  # whatever happened, let every run end so that stop() can

    done = await rig.app.get_job(job.id)
    assert done.attempt == 2
    assert done.result == {"attempt": 2}
    assert [(e.attempt, e.type) for e in done.errors] == [(1, "LeaseExpired")]
    assert probe.attempts == [1, 2]
