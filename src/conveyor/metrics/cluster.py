"""Reading the cluster's figures from the store for one scrape, in Prometheus' format."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest

from conveyor.app import Conveyor
from conveyor.metrics.families import Figures, FiguresCollector
from conveyor.metrics.tally import Tally

# The registry holds a few dozen rows; this only bounds a runaway one.
MAX_WORKERS = 10_000


async def read_figures(app: Conveyor) -> Figures:
    """Three indexed reads, whatever the number of jobs: open jobs by queue and state,
    the worker registry, and the workers' tallies."""
    store = await app.store()
    now = app.clock.now()
    fresh = now - timedelta(seconds=3 * app.settings.lease_ttl_seconds)
    workers = [
        w
        for w in await store.list_workers(limit=MAX_WORKERS)
        if w.state in ("running", "stopping") and w.last_heartbeat_at >= fresh
    ]
    return Figures(
        tally=Tally.merged(list(await store.worker_tallies())),
        now=now,
        depths=await store.queue_depths(now=now),
        workers=workers,
    )


def exposition(figures: Figures) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))
    return generate_latest(registry)
