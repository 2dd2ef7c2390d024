"""An app for the cluster metrics tests: one task that succeeds, one that fails once and
then for good, one under a rate limit; worker subprocesses load it with --app."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.retry import RetryPolicy


class Item(BaseModel):
    n: int


async def ok(payload: Item) -> int:
    return payload.n


async def paced(payload: Item) -> int:
    return payload.n


async def bad(payload: Item) -> None:
    raise ValueError(f"bad item {payload.n}")


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="m.ok")(ok)
    conveyor.task(
        name="m.bad", max_attempts=2, retry=RetryPolicy(base_delay=timedelta(0), jitter=0)
    )(bad)
    # Ten starts a second across the cluster, one at a time: most jobs wait for a token.
    conveyor.task(name="m.paced", queue="paced", rate_limit="10/s", rate_burst=1)(paced)
    return conveyor


app = build()
