"""A small app for end-to-end tests; worker subprocesses load it with --app."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, JobContext


class Noop(BaseModel):
    n: int = 0


class Sleep(BaseModel):
    seconds: float


async def noop(payload: Noop) -> int:
    return payload.n


async def sleep(payload: Sleep) -> str:
    await asyncio.sleep(payload.seconds)
    return "slept"


class Effect(BaseModel):
    sleep_inside: float = 0.0
    sleep_after: float = 0.0


async def effect(payload: Effect, ctx: JobContext) -> None:
    """Write one row and complete the job in the same transaction (exactly once)."""
    async with ctx.transaction() as tx:
        if tx.dialect == "postgresql":
            sql = "INSERT INTO e2e_effects (job_id, attempt) VALUES (%(job)s, %(attempt)s)"
        else:
            sql = "INSERT INTO e2e_effects (job_id, attempt) VALUES (:job, :attempt)"
        await tx.execute(sql, {"job": ctx.job_id, "attempt": ctx.attempt})
        await asyncio.sleep(payload.sleep_inside)  # a kill here rolls everything back
        tx.complete({"attempt": ctx.attempt})
    await asyncio.sleep(payload.sleep_after)  # a kill here finds the job already completed


def build(database_url: str | None = None) -> Conveyor:
    """The app with its tasks; tests build one per database, workers import ``app``."""
    conveyor = Conveyor(database_url)
    conveyor.task(name="e2e.noop")(noop)
    conveyor.task(name="e2e.sleep", max_attempts=3)(sleep)
    conveyor.task(name="e2e.effect", max_attempts=5)(effect)
    return conveyor


app = build()


class Crunch(BaseModel):
    n: int
    spin_forever: bool = False


def crunch(payload: Crunch, ctx: Any) -> dict[str, int]:
    """CPU-bound: runs in a child process (executor="process")."""
    while payload.spin_forever:
        pass
    return {"sum": sum(i * i for i in range(payload.n)), "pid": os.getpid()}


def fail_in_child(payload: Crunch) -> None:
    raise ValueError(f"bad input {payload.n}")
