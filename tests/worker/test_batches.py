"""Batches through a worker: a handler fans out chunks, the callback sees the counts and
reads results, children share the batch's ledger; the batch API shows it all."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pydantic
import pytest

from conveyor import (
    BatchDone,
    Conveyor,
    Discard,
    InvalidArgument,
    JobContext,
    JobState,
    PayloadInvalid,
    RetryPolicy,
)
from conveyor.api import create_api
from tests.worker.helpers import eventually, running

NO_BACKOFF = RetryPolicy(base_delay=timedelta(0), jitter=0)


class Campaign(pydantic.BaseModel):
    campaign_id: int
    recipients: int
    chunk: int


class Chunk(pydantic.BaseModel):
    campaign_id: int
    first: int
    last: int


class CampaignSent(BatchDone):
    campaign_id: int


async def test_a_handler_fans_out_chunks_and_the_callback_gets_counts_and_results(
    app: Conveyor,
) -> None:
    reports: list[tuple[CampaignSent, list[int]]] = []
    parent_attempts: list[int] = []

    @app.task(name="campaign_sent", queue="email")
    async def campaign_sent(payload: CampaignSent, ctx: JobContext) -> None:
        page = await ctx.batch_jobs(payload.batch_id, state="completed", limit=1000)
        reports.append((payload, sorted(j.result for j in page.jobs)))

    @app.task(name="send_chunk", queue="email")
    async def send_chunk(payload: Chunk, ctx: JobContext) -> int:
        if payload.first == 20:
            raise Discard("SMTP account suspended")
        for n in range(payload.first, payload.last):
            await ctx.items.mark_done(n)
        return payload.last - payload.first

    @app.task(name="send_campaign", queue="email", max_attempts=2, retry=NO_BACKOFF)
    async def send_campaign(payload: Campaign, ctx: JobContext) -> None:
        parent_attempts.append(ctx.attempt)
        chunks = [
            Chunk(campaign_id=payload.campaign_id, first=n, last=n + payload.chunk)
            for n in range(0, payload.recipients, payload.chunk)
        ]
        await ctx.enqueue_batch(
            send_chunk,
            chunks,
            callback=campaign_sent,
            callback_payload={"campaign_id": payload.campaign_id},
        )
        if ctx.attempt == 1:
            raise ConnectionError("crashed after creating the batch")

    parent = await send_campaign.enqueue(Campaign(campaign_id=7, recipients=50, chunk=10))
    async with running(app):
        await eventually(lambda: len(reports) == 1, timeout=10, what="the callback")

    assert parent_attempts == [1, 2]  # the retried parent did not create a second batch
    (batch,) = await app.batches_of(parent.id)
    done, results = reports[0]
    assert done == CampaignSent(
        batch_id=batch.id,
        parent_id=parent.id,
        total=5,
        completed=4,
        failed=1,
        cancelled=0,
        campaign_id=7,
    )
    assert results == [10, 10, 10, 10]
    assert (batch.pending, batch.completed, batch.failed) == (0, 4, 1)
    progress = (await app.get_job(parent.id)).progress
    assert progress is not None and (progress.done, progress.total) == (5, 5)
    first_chunk = (await app.batch_jobs(batch.id, limit=1)).jobs[0]
    counts, _ = await app.job_items(first_chunk.id)
    assert counts.done == 40  # the whole batch's ledger, not the one chunk's


async def test_cancelling_a_batch_cancels_its_waiting_children(app: Conveyor) -> None:
    outcome: list[CampaignSent] = []

    @app.task(name="report")
    async def report(payload: CampaignSent) -> None:
        outcome.append(payload)

    @app.task(name="chunk")
    async def chunk(payload: Chunk) -> None:
        await asyncio.sleep(0)

    batch = await app.enqueue_batch(
        chunk,
        [Chunk(campaign_id=1, first=n, last=n + 1) for n in range(3)],
        callback=report,
        callback_payload={"campaign_id": 1},
        delay=3600,
    )
    http = create_api(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=http), base_url="http://test"
    ) as client:
        shown = (await client.get(f"/api/batches/{batch.id}")).json()
        cancelled = (await client.post(f"/api/batches/{batch.id}/cancel")).json()
        children = (await client.get(f"/api/batches/{batch.id}/jobs")).json()
        missing = await client.get("/api/batches/999999")
    async with running(app):
        await eventually(lambda: len(outcome) == 1, timeout=5, what="the callback")

    assert shown["pending"] == 3 and shown["progress"] == {"done": 0, "total": 3}
    assert (cancelled["cancelled"], cancelled["pending"]) == (3, 0)
    assert {j["state"] for j in children["jobs"]} == {JobState.CANCELLED.value}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "batch_not_found"
    assert (outcome[0].cancelled, outcome[0].completed) == (3, 0)


async def test_a_callback_that_could_never_validate_is_refused_at_enqueue(app: Conveyor) -> None:
    @app.task(name="cb")
    async def cb(payload: CampaignSent) -> None: ...

    @app.task(name="child")
    async def child(payload: Chunk) -> None: ...

    chunk = Chunk(campaign_id=1, first=0, last=1)
    with pytest.raises(PayloadInvalid):
        await app.enqueue_batch(child, [chunk], callback=cb)  # campaign_id missing
    with pytest.raises(InvalidArgument):
        await app.enqueue_batch(child, [chunk], callback=cb, callback_payload={"total": 1})
    with pytest.raises(InvalidArgument):
        await app.enqueue_batch(child, [])
    assert (await app.list_jobs()).jobs == []
