"""Flow control through real workers: a cluster-wide rate limit over four workers, and
fairness between a big and a small tenant."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pydantic

from conveyor import Conveyor, JobContext
from tests.worker.helpers import eventually, fast_options, running


class Mail(pydantic.BaseModel):
    tenant: int = 0


@contextlib.asynccontextmanager
async def apps(url: str, count: int) -> AsyncIterator[list[Conveyor]]:
    """``count`` app objects on one database: as many separate stores (connections)."""
    made = [Conveyor(url) for _ in range(count)]
    try:
        yield made
    finally:
        for app in made:
            await app.close()


async def test_a_rate_limit_holds_across_four_workers(store_url: str) -> None:
    handled: list[int] = []
    rate, burst, seconds = 20, 20, 10.0
    async with apps(store_url, 4) as four:
        for app in four:

            @app.task(name="newsletter", rate_limit=f"{rate}/s")
            async def newsletter(payload: Mail, ctx: JobContext) -> None:
                handled.append(ctx.job.id)

        await four[0].enqueue_many("newsletter", [Mail() for _ in range(400)])
        async with contextlib.AsyncExitStack() as stack:
            for app in four:
                await stack.enter_async_context(running(app, fast_options(max_concurrency=10)))
            await eventually(lambda: bool(handled), timeout=10, what="a first start")
            # The subject of this test is a rate over time, so it runs for a time span.
            await asyncio.sleep(seconds)
        # The bucket governs claims: each job's started_at is its claim time, stamped in
        # the claim's own statement, which a loaded event loop cannot shift the way it
        # shifts the moment a handler gets to run.
        page = await four[0].list_jobs(task="newsletter", limit=500)
    claimed = sorted(j.started_at.timestamp() for j in page.jobs if j.started_at is not None)
    first = claimed[0]
    window = [t - first for t in claimed if t - first < seconds]

    busiest = max(sum(1 for u in window if t <= u < t + 1.0) for t in window)
    assert busiest <= rate + burst
    # A full bucket, then the rate: 20 + 20 x 10 at most; close to it under load.
    assert 0.75 * rate * seconds <= len(window) <= burst + rate * seconds + 1


async def test_a_small_tenant_is_not_starved_by_a_big_one(app: Conveyor) -> None:
    finished: list[int] = []

    @app.task(name="campaign_mail", fairness_key=lambda p: p.tenant)
    async def campaign_mail(payload: Mail) -> None:
        finished.append(payload.tenant)

    await campaign_mail.enqueue_many([Mail(tenant=1) for _ in range(5000)])
    await campaign_mail.enqueue_many([Mail(tenant=2) for _ in range(20)])
    async with running(app, fast_options(max_concurrency=10)):
        await eventually(
            lambda: finished.count(2) == 20, timeout=60, what="the small tenant's jobs"
        )
        big_done = finished.count(1)

    assert big_done < 500  # the small tenant finished before the big one's 10%
