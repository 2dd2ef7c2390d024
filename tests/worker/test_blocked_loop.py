"""A handler that blocks the event loop keeps its lease (the loop watchdog renews it from a
thread of its own) and is named in a warning; a lease really lost meanwhile still stops it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import pydantic
import pytest

from conveyor import Conveyor, JobContext, JobState, StoreUnavailable
from tests.worker.helpers import fast_options, running

T = TypeVar("T")
TTL = timedelta(seconds=1.5)  # above the watchdog's 0.5 s threshold, with room to act


class Item(pydantic.BaseModel):
    n: int = 0


def elsewhere(url: str, action: Callable[[Conveyor], Awaitable[T]]) -> T:
    """Run ``action`` as another process would: its own app, loop, thread and connection
    (this test's loop is the one the handler blocks)."""

    async def run() -> T:
        async with Conveyor(url) as other:
            return await action(other)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=30)


async def test_a_handler_blocking_the_loop_keeps_its_lease_and_is_named(
    app: Conveyor, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rescued: list[list[int]] = []

    async def blocks(payload: Item, ctx: JobContext) -> int:
        time.sleep(2 * TTL.total_seconds())  # no heartbeat from the loop for two leases
        rescued.append(elsewhere(store_url, lambda other: other.sweep()))
        return ctx.attempt

    task = app.task(name="w.blocks", payload=Item)(blocks)
    job = await task.enqueue(Item())
    with caplog.at_level(logging.WARNING, logger="conveyor.worker"):
        async with running(app, fast_options(lease_ttl=TTL)) as run:
            await run.acked(1, timeout=30)  # a hang guard only

    assert rescued == [[]], "another worker's rescuer took the blocked job's lease"
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.attempt == 1 and done.result == 1 and done.errors == ()
    named = [r.getMessage() for r in caplog.records if "w.blocks" in r.getMessage()]
    assert any("blocked" in message for message in named), caplog.text


async def test_a_lease_lost_while_the_loop_is_blocked_still_stops_the_run(
    app: Conveyor, store_url: str
) -> None:
    stopped = asyncio.Event()

    async def blocks_then_waits(payload: Item, ctx: JobContext) -> int:
        time.sleep(TTL.total_seconds())
        elsewhere(store_url, lambda other: other.cancel(ctx.job_id))
        time.sleep(TTL.total_seconds())  # the watchdog's next renewal finds the lease gone
        try:
            await asyncio.sleep(30)  # a hang guard: the lost lease cancels this wait
        except asyncio.CancelledError:
            stopped.set()
            raise
        return ctx.attempt

    task = app.task(name="w.blocks_then_waits", payload=Item)(blocks_then_waits)
    job = await task.enqueue(Item())
    async with running(app, fast_options(lease_ttl=TTL)):
        await asyncio.wait_for(stopped.wait(), timeout=10)

    after = await app.get_job(job.id)
    assert after.state is JobState.CANCELLED
    assert after.result is None and after.attempt == 1


async def test_the_watchdog_retries_a_store_it_could_not_open(
    app: Conveyor, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database was unreachable when the watchdog first needed its own connection: it
    tries again at its next renewal instead of giving up on the blocked job's lease."""
    opened: list[bool] = []
    new_store = app.new_store

    def first_open_fails() -> Any:
        store = new_store()
        if not opened:
            opened.append(False)

            async def unreachable() -> None:
                raise StoreUnavailable("simulated: the database is unreachable")

            store.open = unreachable  # type: ignore[method-assign]
        else:
            opened.append(True)
        return store

    monkeypatch.setattr(app, "new_store", first_open_fails)
    rescued: list[list[int]] = []

    async def blocks(payload: Item, ctx: JobContext) -> int:
        time.sleep(2 * TTL.total_seconds())
        rescued.append(elsewhere(store_url, lambda other: other.sweep()))
        return ctx.attempt

    task = app.task(name="w.blocks_once_unreachable", payload=Item)(blocks)
    job = await task.enqueue(Item())
    async with running(app, fast_options(lease_ttl=TTL)) as run:
        await run.acked(1, timeout=30)  # a hang guard only

    assert opened[:2] == [False, True], opened
    assert rescued == [[]], "the lease expired: the watchdog gave up after one failed open"
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED and done.attempt == 1
