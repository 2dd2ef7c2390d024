"""Helpers for testing code that uses Conveyor: run enqueued jobs inline, without a worker,
and crash-test a handler in real worker processes (``crashtest``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from conveyor.app import Conveyor
from conveyor.clock import FrozenClock
from conveyor.crashtest import CrashReport, KillPoint, PointKind, crashtest
from conveyor.store.base import Ack
from conveyor.worker.executor import execute

__all__ = ["CrashReport", "FrozenClock", "KillPoint", "PointKind", "crashtest", "drain"]


async def drain(
    app: Conveyor,
    *,
    queues: Sequence[str] | None = None,
    max_jobs: int | None = None,
    batch_size: int = 100,
) -> int:
    """Run due jobs in this process until none is left (or ``max_jobs`` ran).

    Jobs are claimed, run and acknowledged exactly as a worker would, one batch at a time,
    so retries, timeouts and errors behave as in production. Returns how many ran.
    Jobs whose retry is not yet due are left waiting.
    """
    store = await app.store()
    ran = 0
    while max_jobs is None or ran < max_jobs:
        limit = batch_size if max_jobs is None else min(batch_size, max_jobs - ran)
        jobs = await store.claim_jobs(
            queues=queues,
            limit=limit,
            lease_ttl=timedelta(seconds=app.settings.lease_ttl_seconds),
            worker_id="conveyor.testing.drain",
            now=app.clock.now(),
        )
        if not jobs:
            break
        acks: list[Ack] = []
        for job in jobs:
            ack = await execute(job, tasks=app.tasks, store=store, clock=app.clock, hooks=app.hooks)
            if ack is not None:  # None: completed inside the handler's own transaction
                acks.append(ack)
        await store.ack_jobs(acks=acks, now=app.clock.now())
        ran += len(jobs)
    return ran
