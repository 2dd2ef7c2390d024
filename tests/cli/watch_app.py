"""An app for the ``jobs watch`` and ``jobs retry`` tests: tasks that report progress step
by step, and fail on request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from conveyor import Conveyor, JobContext


class Steps(BaseModel):
    total: int = Field(ge=1)
    gate: str | None = None
    """After step 1, hold until this file exists: the test sees the job mid-way."""
    fail_at: int | None = None
    """Raise instead of doing this step."""


async def steps(payload: Steps, ctx: JobContext) -> dict[str, int]:
    for done in range(1, payload.total + 1):
        if done == payload.fail_at:
            raise RuntimeError(f"step {done} failed")
        await ctx.progress(done, payload.total)
        if done == 1 and payload.gate is not None:
            while not Path(payload.gate).exists():
                await asyncio.sleep(0.05)
    return {"steps": payload.total}


def build(database_url: str | None = None, **settings: Any) -> Conveyor:
    """The app with its tasks; subprocesses import ``app``, tests build one per database."""
    conveyor = Conveyor(database_url, **settings)
    conveyor.task(name="watch.steps", max_attempts=1)(steps)
    conveyor.task(name="watch.other", max_attempts=1)(steps)
    return conveyor


app = build()  # CONVEYOR_DATABASE_URL names the test's database
