"""An app for the cluster metrics test: one task that succeeds, one that fails once and
then for good; worker subprocesses load it with --app."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.retry import RetryPolicy


class Item(BaseModel):
    n: int


async def ok(payload: Item) -> int:
    return payload.n


async def bad(payload: Item) -> None:
    raise ValueError(f"bad item {payload.n}")


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="m.ok")(ok)
    conveyor.task(
        name="m.bad", max_attempts=2, retry=RetryPolicy(base_delay=timedelta(0), jitter=0)
    )(bad)
    return conveyor


app = build()
