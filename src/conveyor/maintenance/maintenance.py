"""Maintenance: prune old finished jobs and fires in small batches, clean up dead workers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.seams import AppSeam

log = logging.getLogger("conveyor.maintenance")


@dataclass(frozen=True, slots=True)
class MaintenanceOptions:
    """What maintenance does and how often.

    Attributes:
        interval: how often it runs in each scheduler process (default 60 s; every
            process may run it, the work is idempotent and batches skip each other).
        job_retention: finished jobs older than this are deleted; ``None`` keeps them
            forever (default: the ``job_retention_days`` setting, 30 days).
        batch_size: rows per delete, so no delete holds its locks for long (1,000).
        dead_worker_after: a worker silent this long is marked dead (default 60 s).
        worker_retention: stopped and dead workers are forgotten after this (1 day).
        fire_retention: fire records (the once-only keys of schedule fires) are kept this
            long (1 day: far longer than any scheduler takes to decide a fire; the jobs
            keep their schedule and fire time for as long as the job retention says).
    """

    interval: timedelta = timedelta(seconds=60)
    job_retention: timedelta | None = timedelta(days=30)
    batch_size: int = 1000
    dead_worker_after: timedelta = timedelta(seconds=60)
    worker_retention: timedelta = timedelta(days=1)
    fire_retention: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    jobs_pruned: int
    fires_pruned: int
    workers_marked_dead: list[str]
    workers_pruned: int


class Maintenance:
    """Runs the maintenance pass at most once per ``interval`` (``run_if_due``)."""

    def __init__(self, app: AppSeam, options: MaintenanceOptions | None = None) -> None:
        self.app = app
        if options is None:
            days = app.settings.job_retention_days
            options = MaintenanceOptions(
                job_retention=timedelta(days=days) if days else None,
                # as the worker's own check: two lease periods without a heartbeat
                dead_worker_after=timedelta(seconds=2 * app.settings.lease_ttl_seconds),
            )
        self.options = options
        self._last_run: datetime | None = None

    async def run_if_due(self) -> MaintenanceReport | None:
        now = self.app.clock.now()
        if self._last_run is not None and now - self._last_run < self.options.interval:
            return None
        self._last_run = now
        return await self.run()

    async def run(self) -> MaintenanceReport:
        """One pass now."""
        store = await self.app.store()
        now = self.app.clock.now()
        pruned = fires = 0
        if self.options.job_retention is not None:
            before = now - self.options.job_retention
            while True:
                batch = await store.prune_finished(before=before, limit=self.options.batch_size)
                pruned += batch
                if batch < self.options.batch_size:
                    break
                await asyncio.sleep(0)  # let the process's other work run between batches
        fires = await store.prune_fires(before=now - self.options.fire_retention)
        dead = await store.mark_dead_workers(before=now - self.options.dead_worker_after, now=now)
        forgotten = await store.prune_workers(before=now - self.options.worker_retention)
        await store.compact_enqueue_tally()
        if dead:  # the one place that marks them (the rescue of their jobs needs no mark)
            log.warning("workers stopped heart-beating, marked dead: %s", dead)
        if pruned:
            log.info("maintenance: pruned %d finished jobs", pruned)
        return MaintenanceReport(pruned, fires, dead, forgotten)
