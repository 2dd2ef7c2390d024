"""An app for the two-process alert test: a task that takes a moment, then fails for good."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor


class Brush(BaseModel):
    n: int


async def brush(payload: Brush) -> None:
    await asyncio.sleep(0.2)  # long enough that both workers take some of the burst
    raise RuntimeError(f"brush {payload.n} jammed")


def build(database_url: str | None = None, **settings: Any) -> Conveyor:
    """The app with its task; subprocesses import ``app``, the test builds one per database."""
    conveyor = Conveyor(database_url, **settings)
    conveyor.task(name="brush", max_attempts=1, queue="brushes")(brush)
    return conveyor


app = build()
