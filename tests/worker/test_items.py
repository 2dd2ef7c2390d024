"""The item ledger through a worker: buffered marks survive a failed attempt, the retry
skips done items, failed items keep their reasons; the ledger is readable over HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pydantic

from conveyor import Conveyor, JobContext, JobState, RetryPolicy
from conveyor.api import create_api
from tests.worker.helpers import eventually, running

NO_BACKOFF = RetryPolicy(base_delay=timedelta(0), jitter=0)


class Recipients(pydantic.BaseModel):
    count: int
    crash_after: int
    bounce_every: int = 0


async def test_retry_skips_items_marked_done_before_the_crash(app: Conveyor) -> None:
    sent: Counter[int] = Counter()

    @app.task(name="mail", max_attempts=2, retry=NO_BACKOFF)
    async def mail(payload: Recipients, ctx: JobContext) -> int:
        done = await ctx.items.done_keys()
        fresh = 0
        for n in range(payload.count):
            if str(n) in done:
                continue
            if ctx.attempt == 1 and fresh == payload.crash_after:
                raise ConnectionError("SMTP connection dropped")
            fresh += 1
            if payload.bounce_every and n % payload.bounce_every == 0:
                await ctx.items.mark_failed(n, f"550 mailbox {n} unavailable")
                continue
            sent[n] += 1
            await ctx.items.mark_done(n)
        return fresh

    job = await mail.enqueue(Recipients(count=250, crash_after=130, bounce_every=50))
    async with running(app) as run:
        await run.acked(2)

    finished = await app.get_job(job.id)
    assert finished.state is JobState.COMPLETED
    assert finished.attempt == 2
    bounced = {0, 50, 100, 150, 200}
    assert sorted(sent) == [n for n in range(250) if n not in bounced]
    assert set(sent.values()) == {1}  # nobody mailed twice
    # The first attempt handled 0..129 (three bounces among them, re-tried by the second).
    assert finished.result == 250 - (130 - 3)
    counts, failed = await app.job_items(job.id, outcome="failed")
    assert (counts.done, counts.failed, counts.skipped) == (245, 5, 0)
    assert [(i.key, i.reason) for i in failed.items] == [
        (str(n), f"550 mailbox {n} unavailable") for n in sorted(bounced, key=str)
    ]


async def test_the_ledger_flushes_by_size_while_the_handler_runs(app: Conveyor) -> None:
    @app.task(name="slow_marker")
    async def slow_marker(payload: Recipients, ctx: JobContext) -> None:
        for n in range(payload.count):
            await ctx.items.mark_skipped(n, "opted out")
        await asyncio.Event().wait()  # parked until cancelled

    job = await slow_marker.enqueue(Recipients(count=150, crash_after=0))
    async with running(app):

        async def flushed() -> bool:
            counts, _ = await app.job_items(job.id)
            return counts.skipped == 100  # one full buffer; 50 still pending

        await eventually(flushed, timeout=5)
        await app.cancel(job.id)


async def test_items_endpoint_shows_counts_and_failed_items(app: Conveyor) -> None:
    @app.task(name="import_rows")
    async def import_rows(payload: Recipients, ctx: JobContext) -> None:
        for n in range(payload.count):
            if n % 3 == 0:
                await ctx.items.mark_failed(f"row-{n:02}", f"row {n}: bad email")
            else:
                await ctx.items.mark_done(f"row-{n:02}")

    job = await import_rows.enqueue(Recipients(count=12, crash_after=0))
    async with running(app) as run:
        await run.acked(1)
    http = create_api(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=http), base_url="http://test"
    ) as client:
        everything = (await client.get(f"/api/jobs/{job.id}/items", params={"limit": 5})).json()
        failed = (await client.get(f"/api/jobs/{job.id}/items?outcome=failed")).json()
        bad = await client.get(f"/api/jobs/{job.id}/items?outcome=lost")
        missing = await client.get("/api/jobs/999999/items")

    assert everything["counts"] == {"done": 8, "skipped": 0, "failed": 4, "total": 12}
    assert [i["key"] for i in everything["items"]] == [f"row-{n:02}" for n in range(5)]
    assert everything["next_after"] == "row-04"
    assert [(i["key"], i["reason"]) for i in failed["items"]] == [
        (f"row-{n:02}", f"row {n}: bad email") for n in (0, 3, 6, 9)
    ]
    assert failed["items"][0]["attempt"] == 1 and failed["items"][0]["job_id"] == job.id
    assert bad.status_code == 422
    assert missing.status_code == 404
