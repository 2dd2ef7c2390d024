"""The app the dashboard's browser tests serve: tasks that fail, crawl with progress,
and echo their payload."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, JobContext

QUEUE = "dash"


class Flaky(BaseModel):
    failures: int = 1
    message: str = "card declined"


class Crawl(BaseModel):
    steps: int = 100
    delay: float = 0.2


class Echo(BaseModel):
    text: str


async def flaky(payload: Flaky, ctx: JobContext) -> dict[str, Any]:
    """Fails its first ``failures`` attempts, then succeeds."""
    if ctx.attempt <= payload.failures:
        raise RuntimeError(payload.message)
    return {"succeeded_on_attempt": ctx.attempt}


async def crawl(payload: Crawl, ctx: JobContext) -> int:
    """Reports progress step by step until done (or cancelled: then asyncio cancels it)."""
    for step in range(1, payload.steps + 1):
        await asyncio.sleep(payload.delay)
        await ctx.progress(step, payload.steps)
    return payload.steps


async def echo(payload: Echo) -> dict[str, str]:
    return {"echo": payload.text}


def register(app: Conveyor) -> Conveyor:
    app.task(name="dash.flaky", queue=QUEUE, max_attempts=1)(flaky)
    app.task(name="dash.crawl", queue=QUEUE, max_attempts=1, timeout=600)(crawl)
    app.task(name="dash.echo", queue=QUEUE)(echo)
    return app


app = register(Conveyor())
