"""An app for the ``batches`` CLI tests: a child task that fails on request, and a callback."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conveyor import BatchDone, Conveyor


class Child(BaseModel):
    n: int
    fail: bool = False


async def child(payload: Child) -> int:
    if payload.fail:
        raise RuntimeError(f"child {payload.n} failed")
    return payload.n


async def totals(payload: BatchDone) -> None:
    return None


def build(database_url: str | None = None, **settings: Any) -> Conveyor:
    """The app with its tasks; subprocesses import ``app``, tests build one per database."""
    conveyor = Conveyor(database_url, **settings)
    conveyor.task(name="batch.child", max_attempts=1)(child)
    conveyor.task(name="batch.totals")(totals)
    return conveyor


app = build()
