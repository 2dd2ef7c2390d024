"""The app the worker benchmarks run: one no-op task."""

from __future__ import annotations

from pydantic import BaseModel

from conveyor import Conveyor


class Noop(BaseModel):
    i: int = 0


async def noop(payload: Noop) -> None:
    return None


def build(database_url: str | None = None) -> Conveyor:
    app = Conveyor(database_url)
    app.task(name="bench.noop")(noop)
    return app


app = build()
