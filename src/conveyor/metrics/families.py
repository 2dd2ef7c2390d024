"""The metric families Conveyor exposes, built from a snapshot of figures.

Names and labels are a contract (dashboards and alert rules are written against them):
see ``docs/reference/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from conveyor.metrics.tally import DURATION_BUCKETS, Tally
from conveyor.stats import QueueDepth, WorkerInfo

# The label values of one sample, in the order of its family's labels.
Labels = TypeVar("Labels", bound=tuple[str, ...])

DEPTH_STATES = ("available", "scheduled", "running", "retrying")


@dataclass(frozen=True)
class Figures:
    """What one scrape reports. ``depths``, ``workers`` and ``enqueued`` are ``None`` for a
    worker's own endpoint, which reports only what that process did (a worker process's
    enqueues are counted by the store, for the cluster, not by the process)."""

    tally: Tally
    now: datetime
    depths: list[QueueDepth] | None = None
    workers: list[WorkerInfo] | None = None
    executors: int | None = None
    enqueued: dict[tuple[str, str], int] | None = None


def families(figures: Figures) -> Iterator[Metric]:
    if figures.enqueued is not None:
        yield _counter(
            "conveyor_jobs_enqueued",
            "Jobs enqueued (counted in the inserting transaction; duplicates of an "
            "idempotency key and rolled-back enqueues are not)",
            ["task", "queue"],
            figures.enqueued,
        )
    yield from _finished(figures.tally)
    yield _counter(
        "conveyor_rate_limit_waits",
        "Jobs whose start a rate limit held back (counted once a job, when it is claimed)",
        ["task"],
        {(task,): count for task, count in figures.tally.rate_waits.items()},
    )
    yield _counter(
        "conveyor_alert_delivery_failures",
        "Failed attempts to deliver an alert (each retry counted), by channel",
        ["channel"],
        {(channel,): count for channel, count in figures.tally.alert_failures.items()},
    )
    if figures.depths is not None:
        named = {q for w in figures.workers or [] for q in (w.queues or [])}
        yield from _depths(figures.depths, figures.now, named)
    if figures.workers is not None:
        yield _workers(figures.workers, figures.depths or [])
    executors = figures.executors
    if executors is None and figures.workers is not None:
        executors = sum(w.executors for w in figures.workers)
    if executors is not None:
        yield GaugeMetricFamily(
            "conveyor_worker_executors", "Executors of the live workers", value=executors
        )


def _counter(
    name: str, documentation: str, labels: list[str], counts: Mapping[Labels, int]
) -> Metric:
    """A counter family with one sample per key of ``counts`` (the labels' values)."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts.items()):
        family.add_metric(list(values), count)
    return family


def _finished(tally: Tally) -> Iterator[Metric]:
    yield _counter(
        "conveyor_jobs_finished",
        "Job runs that ended, by outcome (completed, failed, cancelled, retried)",
        ["task", "queue", "outcome"],
        tally.finished,
    )
    durations = HistogramMetricFamily(
        "conveyor_job_duration_seconds", "Run time of job handlers", labels=["task", "queue"]
    )
    for (task, queue), histogram in sorted(tally.durations.items()):
        cumulative, buckets = 0, []
        for bound, count in zip([*DURATION_BUCKETS, float("inf")], histogram.buckets, strict=True):
            cumulative += count
            buckets.append((_bound(bound), float(cumulative)))
        durations.add_metric([task, queue], buckets, sum_value=histogram.total)
    yield durations


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _depths(depths: list[QueueDepth], now: datetime, named: set[str]) -> Iterator[Metric]:
    """Every state of each queue that has open jobs or that a live worker names (zeros
    included, so that a drained queue reads 0 rather than vanishing)."""
    depth = GaugeMetricFamily(
        "conveyor_queue_depth", "Open jobs by queue and state", labels=["queue", "state"]
    )
    lag = GaugeMetricFamily(
        "conveyor_queue_lag_seconds",
        "Age of the oldest job that could run now (0 when none waits)",
        labels=["queue"],
    )
    by_queue: dict[str, dict[str, int]] = {q: dict.fromkeys(DEPTH_STATES, 0) for q in named}
    oldest: dict[str, datetime] = {}
    for row in depths:
        by_queue.setdefault(row.queue, dict.fromkeys(DEPTH_STATES, 0))[row.state] = row.count
        if row.oldest_due is not None and (
            row.queue not in oldest or row.oldest_due < oldest[row.queue]
        ):
            oldest[row.queue] = row.oldest_due
    for queue, states in sorted(by_queue.items()):
        for state, count in states.items():
            depth.add_metric([queue, state], count)
        due = oldest.get(queue)
        lag.add_metric([queue], 0.0 if due is None else max((now - due).total_seconds(), 0.0))
    yield depth
    yield lag


def _workers(workers: list[WorkerInfo], depths: Iterable[QueueDepth]) -> Metric:
    """Live workers per queue; a worker that takes every queue counts for each queue
    that has jobs or that another worker names."""
    family = GaugeMetricFamily(
        "conveyor_workers", "Live workers that take jobs from the queue", labels=["queue"]
    )
    queues = {d.queue for d in depths} | {q for w in workers for q in (w.queues or [])}
    every = sum(1 for w in workers if w.queues is None)
    for queue in sorted(queues):
        family.add_metric([queue], every + sum(1 for w in workers if queue in (w.queues or [])))
    return family


class FiguresCollector(Collector):
    """A prometheus_client collector over figures read once for this scrape."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        return families(self.figures)
