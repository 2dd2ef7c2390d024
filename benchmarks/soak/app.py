"""The app a soak runs: a few task shapes a real deployment has (quick, a little CPU, a
write in the job's transaction, an occasional failure that retries)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from pydantic import BaseModel

from conveyor import Conveyor, JobContext, RetryPolicy


class Work(BaseModel):
    n: int
    text: str = ""


async def digest(payload: Work) -> dict[str, str]:
    """A little CPU and a result to store."""
    value = hashlib.sha256(f"{payload.n}:{payload.text}".encode()).hexdigest()
    return {"digest": value}


async def progress(payload: Work, ctx: JobContext) -> int:
    """Progress and a checkpoint, written through the store."""
    await ctx.progress(1, 2)
    await ctx.save_checkpoint({"n": payload.n})
    await ctx.progress(2, 2)
    return payload.n


async def flaky(payload: Work, ctx: JobContext) -> int:
    """Fails its first attempt one time in five, then succeeds: errors and retries."""
    if payload.n % 5 == 0 and ctx.attempt == 1:
        raise RuntimeError(f"transient failure {payload.n}")
    return payload.n


app = Conveyor(api_token=None)
app.task(name="soak.digest")(digest)
app.task(name="soak.progress")(progress)
app.task(name="soak.flaky", retry=RetryPolicy(base_delay=timedelta(milliseconds=200)))(flaky)
