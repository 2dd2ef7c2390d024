"""In-process wake-up: an enqueue through the worker's app starts the job at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Job, JobContext, JobState
from tests.worker.helpers import fast_options, running


class Item(pydantic.BaseModel):
    n: int = 0


async def test_an_enqueue_wakes_an_idle_worker_long_before_its_poll(app: Conveyor) -> None:
    ran: list[int] = []

    async def noop(payload: Item, ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    task = app.task(name="u.noop", payload=Item)(noop)
    first = await task.enqueue(Item(n=1))

    async with running(app, fast_options(poll_interval=timedelta(seconds=5))) as run:
        await run.acked(1)  # the first claim found it; the worker now idles until woken
        loop = asyncio.get_running_loop()
        enqueued_at = loop.time()
        second = await task.enqueue(Item(n=2))
        await run.acked(2, timeout=4)
        elapsed = loop.time() - enqueued_at

    assert elapsed < 2.0, f"took {elapsed:.2f} s: the worker waited for its 5 s poll"
    assert ran == [first.id, second.id]
    assert (await app.get_job(second.id)).state is JobState.COMPLETED


async def test_an_enqueue_that_lands_during_a_claim_is_not_lost(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    async def noop(payload: Item, ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    task = app.task(name="u.noop", payload=Item)(noop)
    store = await app.store()
    claim = store.claim_jobs
    late: list[Job] = []

    async def claim_then_enqueue(**kwargs: Any) -> list[Job]:
        # The claim's snapshot is taken, then a job is enqueued (and the worker woken)
        # before the worker gets the claim's answer back.
        claimed = await claim(**kwargs)
        if not late:
            late.append(await task.enqueue(Item(n=1)))
        return claimed

    monkeypatch.setattr(store, "claim_jobs", claim_then_enqueue)
    async with running(app, fast_options(poll_interval=timedelta(seconds=5))) as run:
        await run.acked(1, timeout=2)

    assert ran == [late[0].id]
