"""The chaos suite's app: handlers that count their runs in a ledger table, block, poison
their results, or wait for the test; worker subprocesses load ``app``.

``CHAOS_CLOCK_SKEW_SECONDS`` sets how far this process's clock runs ahead of the real one.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, JobContext
from conveyor.clock import SystemClock

LEDGER_TABLE = "CREATE TABLE chaos_runs (job_id bigint NOT NULL, attempt integer, pid integer)"


class SkewedClock(SystemClock):
    """The wall clock plus a fixed offset: a machine whose clock is wrong."""

    def __init__(self, skew: timedelta) -> None:
        self.skew = skew

    def now(self) -> datetime:
        return super().now() + self.skew


class Work(BaseModel):
    n: int = 0
    seconds: float = 0.0


class Poison(BaseModel):
    kind: str


class Gate(BaseModel):
    directory: str


async def record_run(ctx: JobContext) -> None:
    """One ledger row per run that got this far, committed now (not with the ack): the
    ledger counts runs, so a job acked late or rescued shows up twice."""
    async with ctx.transaction() as tx:
        if tx.dialect == "postgresql":
            sql = "INSERT INTO chaos_runs VALUES (%(job)s, %(attempt)s, %(pid)s)"
        else:
            sql = "INSERT INTO chaos_runs VALUES (:job, :attempt, :pid)"
        await tx.execute(sql, {"job": ctx.job_id, "attempt": ctx.attempt, "pid": os.getpid()})


async def counted(payload: Work, ctx: JobContext) -> int:
    """Record the run, then hold the job a little (so kills find leases held)."""
    await record_run(ctx)
    if payload.seconds:
        await asyncio.sleep(payload.seconds)
    return payload.n


async def blocking(payload: Work, ctx: JobContext) -> int:
    """Blocks the event loop (a sync call inside an async handler), the defect-4 way."""
    await record_run(ctx)
    time.sleep(payload.seconds)
    return payload.n


async def poison(payload: Poison) -> Any:
    """Returns a value that JSON (and PostgreSQL's jsonb) cannot store."""
    values: dict[str, Any] = {
        "nan": math.nan,
        "infinity": math.inf,
        "surrogate": "bad \ud800 text",
        "nested_nan": {"total": [1.0, math.nan]},
    }
    return values[payload.kind]


async def gated(payload: Gate, ctx: JobContext) -> dict[str, int]:
    """Waits until the test opens this attempt's gate (a file), then completes."""
    gate = Path(payload.directory) / f"attempt-{ctx.attempt}"
    while not gate.exists():
        await asyncio.sleep(0.02)
    return {"attempt": ctx.attempt, "pid": os.getpid()}


def build(database_url: str | None = None) -> Conveyor:
    skew = float(os.environ.get("CHAOS_CLOCK_SKEW_SECONDS", "0"))
    clock = SkewedClock(timedelta(seconds=skew)) if skew else None
    conveyor = Conveyor(database_url, clock=clock)
    conveyor.task(name="chaos.counted", max_attempts=20)(counted)
    conveyor.task(name="chaos.sleeps_in_the_loop", max_attempts=20)(blocking)
    conveyor.task(name="chaos.poison", max_attempts=1)(poison)
    conveyor.task(name="chaos.gated", max_attempts=5)(gated)
    return conveyor


app = build()
