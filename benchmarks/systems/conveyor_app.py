"""The Conveyor app the benchmark's worker processes run (``--app`` target).

The store comes from ``CONVEYOR_DATABASE_URL``, as for any Conveyor deployment.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from benchmarks.systems.latency import record_start
from conveyor import Conveyor


class Noop(BaseModel):
    i: int = 0


class Sent(BaseModel):
    sent_at: float


async def noop(payload: Noop) -> None:
    return None


async def sleep(payload: Noop) -> None:
    await asyncio.sleep(0.01)


async def latency(payload: Sent) -> None:
    record_start(payload.sent_at)


def build(database_url: str | None = None) -> Conveyor:
    """An app with the three benchmark tasks on ``database_url`` (default: from the env)."""
    app = Conveyor(database_url)
    app.task(name="bench.noop")(noop)
    app.task(name="bench.sleep")(sleep)
    app.task(name="bench.latency")(latency)
    return app


app = build()
