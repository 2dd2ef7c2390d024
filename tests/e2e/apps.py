"""A small app for end-to-end tests; worker subprocesses load it with --app."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from conveyor import Conveyor


class Noop(BaseModel):
    n: int = 0


class Sleep(BaseModel):
    seconds: float


async def noop(payload: Noop) -> int:
    return payload.n


async def sleep(payload: Sleep) -> str:
    await asyncio.sleep(payload.seconds)
    return "slept"


def build(database_url: str | None = None) -> Conveyor:
    """The app with its tasks; tests build one per database, workers import ``app``."""
    conveyor = Conveyor(database_url)
    conveyor.task(name="e2e.noop")(noop)
    conveyor.task(name="e2e.sleep", max_attempts=3)(sleep)
    return conveyor


app = build()
