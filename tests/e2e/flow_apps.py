"""An app for the flow-control end-to-end tests (ledger, batches); workers load it with --app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator

from pydantic import BaseModel

from conveyor import BatchDone, Conveyor, Discard, JobContext
from tests.e2e import processes

APP = "tests.e2e.flow_apps:app"


class Items(BaseModel):
    count: int
    chunk: int = 10
    pause: float = 0.0


async def write_items(payload: Items, ctx: JobContext) -> int:
    """Write one row per item, skipping the ones the ledger says are done. Each chunk's rows
    and their "done" marks commit together, so a kill loses or keeps both."""
    done = await ctx.items.done_keys()
    todo = [n for n in range(payload.count) if str(n) not in done]
    for start in range(0, len(todo), payload.chunk):
        chunk = todo[start : start + payload.chunk]
        async with ctx.transaction() as tx:
            for n in chunk:
                if tx.dialect == "postgresql":
                    sql = "INSERT INTO e2e_items (item, attempt) VALUES (%(item)s, %(attempt)s)"
                else:
                    sql = "INSERT INTO e2e_items (item, attempt) VALUES (:item, :attempt)"
                await tx.execute(sql, {"item": n, "attempt": ctx.attempt})
                tx.items.mark_done(n)
        await asyncio.sleep(payload.pause)
    return len(todo)


class Child(BaseModel):
    n: int


async def child(payload: Child) -> int:
    """A batch child; every seventh fails for good."""
    if payload.n % 7 == 0:
        raise Discard(f"child {payload.n} is broken")
    return payload.n


class Tally(BatchDone):
    label: str


async def tally(payload: Tally, ctx: JobContext) -> None:
    """The batch callback: record what it was told, once per run."""
    async with ctx.transaction() as tx:
        if tx.dialect == "postgresql":
            sql = (
                "INSERT INTO e2e_callbacks (batch_id, completed, failed, cancelled) "
                "VALUES (%(batch)s, %(completed)s, %(failed)s, %(cancelled)s)"
            )
        else:
            sql = (
                "INSERT INTO e2e_callbacks (batch_id, completed, failed, cancelled) "
                "VALUES (:batch, :completed, :failed, :cancelled)"
            )
        params = {"batch": payload.batch_id, "completed": payload.completed}
        await tx.execute(sql, params | {"failed": payload.failed, "cancelled": payload.cancelled})


class Sync(BaseModel):
    tenant: int
    seconds: float


async def financial_sync(payload: Sync, ctx: JobContext) -> None:
    """One per tenant at a time: records when it ran, for the overlap check."""
    started = time.time()
    await asyncio.sleep(payload.seconds)
    async with ctx.transaction() as tx:
        if tx.dialect == "postgresql":
            sql = (
                "INSERT INTO e2e_runs (tenant, started, ended, pid) "
                "VALUES (%(tenant)s, %(started)s, %(ended)s, %(pid)s)"
            )
        else:
            sql = (
                "INSERT INTO e2e_runs (tenant, started, ended, pid) "
                "VALUES (:tenant, :started, :ended, :pid)"
            )
        params = {"tenant": payload.tenant, "started": started, "pid": os.getpid()}
        await tx.execute(sql, params | {"ended": time.time()})


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="flow.write_items", max_attempts=5)(write_items)
    conveyor.task(name="flow.child", max_attempts=1)(child)
    conveyor.task(name="flow.tally")(tally)
    conveyor.task(name="flow.sync", concurrency_key=lambda p: p.tenant, concurrency_limit=1)(
        financial_sync
    )
    return conveyor


app = build()


def start_worker(url: str, *args: str, lease_ttl: float = 30.0) -> subprocess.Popen[bytes]:
    return processes.start_worker(url, *args, app=APP, lease_ttl=lease_ttl)


@contextlib.asynccontextmanager
async def two_workers(app: Conveyor, url: str, *args: str) -> AsyncIterator[None]:
    """A supervisor over two worker processes of this app, entered once both have
    registered as running (so that both share the work that follows), stopped on exit."""
    supervisor = start_worker(url, "--processes", "2", *args)
    try:

        async def both_up() -> bool:
            return len([w for w in await app.workers() if w.state == "running"]) == 2

        await processes.eventually(both_up, timeout=60)
        yield
    finally:
        processes.stop(supervisor)
