"""A worker's start: it listens while it registers and makes its first claim, says when
that first claim was made, and ``conveyor worker`` starts its scheduler after it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Job, JobContext, JobState, StoreUnavailable
from conveyor.cli.work import _schedule_once_started
from conveyor.scheduler.scheduler import Scheduler
from conveyor.store.base import Listener
from conveyor.worker.worker import Worker
from tests.worker.helpers import eventually, fast_options, running

NO_POLL = timedelta(seconds=60)  # far beyond every wait below: only a wake-up starts a job


class Item(pydantic.BaseModel):
    n: int = 0


async def test_a_job_enqueued_elsewhere_before_the_worker_listens_starts_without_a_poll(
    app: Conveyor, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    async def noop(payload: Item, ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    app.task(name="u.noop", payload=Item)(noop)
    # Another process's app: its enqueue wakes none of this app's in-process listeners.
    producer = Conveyor(store_url)
    producer.task(name="u.noop", payload=Item)(noop)
    store = await app.store()
    claim, listen = store.claim_jobs, store.listen
    first_claim_made = asyncio.Event()
    late: list[Job] = []

    async def claim_and_tell(**kwargs: Any) -> list[Job]:
        claimed = await claim(**kwargs)
        first_claim_made.set()
        return claimed

    async def listen_late(**kwargs: Any) -> Listener:
        # The first claim found nothing; a job arrives before LISTEN takes effect, so no
        # notification will ever tell of it.
        await first_claim_made.wait()
        late.append(await producer.enqueue("u.noop", {"n": 1}))
        return await listen(**kwargs)

    monkeypatch.setattr(store, "claim_jobs", claim_and_tell)
    monkeypatch.setattr(store, "listen", listen_late)
    try:
        async with running(app, fast_options(poll_interval=NO_POLL)) as run:
            await run.acked(1, timeout=20)
    finally:
        await producer.close()

    assert ran == [late[0].id]


async def test_wait_started_returns_once_the_first_claim_was_made(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def noop(payload: Item) -> None:
        return None

    task = app.task(name="u.noop", payload=Item)(noop)
    job = await task.enqueue(Item())
    store = await app.store()
    claim = store.claim_jobs
    claims = 0

    async def counted(**kwargs: Any) -> list[Job]:
        nonlocal claims
        claims += 1
        return await claim(**kwargs)

    monkeypatch.setattr(store, "claim_jobs", counted)
    async with running(app, fast_options(poll_interval=NO_POLL)) as run:
        await asyncio.wait_for(run.worker.wait_started(), timeout=20)
        assert claims >= 1
        await run.acked(1, timeout=20)

    assert (await app.get_job(job.id)).state is JobState.COMPLETED


async def test_wait_started_returns_when_the_worker_fails_to_start(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await app.store()

    async def unreachable(**kwargs: Any) -> None:
        raise StoreUnavailable("the database went away")

    monkeypatch.setattr(store, "register_worker", unreachable)
    worker = Worker(app, fast_options(poll_interval=NO_POLL))
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(worker.run(), timeout=20)
    await asyncio.wait_for(worker.wait_started(), timeout=1)


async def test_the_worker_commands_scheduler_starts_once_the_first_claim_is_acked(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def noop(payload: Item) -> None:
        return None

    task = app.task(name="u.noop", payload=Item)(noop)
    await task.enqueue(Item())
    store = await app.store()
    calls: list[str] = []
    claim, ack, save = store.claim_jobs, store.ack_jobs, store.save_schedules

    async def claim_jobs(**kwargs: Any) -> list[Job]:
        claimed = await claim(**kwargs)
        calls.append(f"claimed {len(claimed)}")
        return claimed

    async def ack_jobs(**kwargs: Any) -> Any:
        outcome = await ack(**kwargs)
        calls.append("acked")
        return outcome

    async def save_schedules(**kwargs: Any) -> None:
        calls.append("scheduler starts")
        await save(**kwargs)

    monkeypatch.setattr(store, "claim_jobs", claim_jobs)
    monkeypatch.setattr(store, "ack_jobs", ack_jobs)
    monkeypatch.setattr(store, "save_schedules", save_schedules)
    scheduler = Scheduler(app)
    async with running(app, fast_options(poll_interval=NO_POLL)) as run:
        firing = asyncio.create_task(_schedule_once_started(run.worker, scheduler, grace=60))
        await run.acked(1, timeout=20)
        await eventually(lambda: "scheduler starts" in calls, timeout=20, what="the scheduler")
        scheduler.stop()
        await asyncio.wait_for(firing, timeout=20)

    assert calls[0] == "claimed 1"
    assert calls.index("acked") < calls.index("scheduler starts")
