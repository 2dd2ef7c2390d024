"""The cluster as one read sees it: open jobs by queue and state, live workers, summed
tallies and the jobs enqueued.

Shared by the ``/metrics`` scrape and the alert rules; it imports no Prometheus code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from conveyor.metrics.tally import Tally
from conveyor.stats import QueueDepth, WorkerInfo

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# The registry holds a few dozen rows; this only bounds a runaway one.
MAX_WORKERS = 10_000


@dataclass(frozen=True)
class ClusterSnapshot:
    """``workers`` are the live ones: ``running`` or ``stopping``, with a heartbeat under
    three lease periods old. ``enqueued`` counts jobs ever enqueued by (task, queue)."""

    tally: Tally
    now: datetime
    depths: list[QueueDepth]
    workers: list[WorkerInfo]
    enqueued: dict[tuple[str, str], int]


async def read_snapshot(app: Conveyor) -> ClusterSnapshot:
    """Four indexed reads, whatever the number of jobs: open jobs by queue and state,
    the worker registry, the workers' tallies and the enqueue counters (a few rows per
    task and queue)."""
    store = await app.store()
    now = app.clock.now()
    fresh = now - timedelta(seconds=3 * app.settings.lease_ttl_seconds)
    workers = [
        w
        for w in await store.list_workers(limit=MAX_WORKERS)
        if w.state in ("running", "stopping") and w.last_heartbeat_at >= fresh
    ]
    return ClusterSnapshot(
        tally=Tally.merged(list(await store.worker_tallies())),
        now=now,
        depths=await store.queue_depths(now=now),
        workers=workers,
        enqueued=await store.enqueue_tallies(),
    )
