"""Reading the cluster's figures from the store for one scrape, in Prometheus' format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from conveyor.app import Conveyor
from conveyor.metrics.families import Figures, FiguresCollector
from conveyor.metrics.snapshot import read_snapshot


async def read_figures(app: Conveyor) -> Figures:
    """The figures of one scrape: four indexed reads (``snapshot.read_snapshot``)."""
    snapshot = await read_snapshot(app)
    return Figures(
        tally=snapshot.tally,
        now=snapshot.now,
        depths=snapshot.depths,
        workers=snapshot.workers,
        enqueued=snapshot.enqueued,
    )


def exposition(figures: Figures) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))
    return generate_latest(registry)
