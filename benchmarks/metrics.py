"""What each reported figure means, and the summary of its runs (median, range, ratio)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "W1": Metric("W1 drain 20k no-op", "jobs/s", True),
    "W2 p50": Metric("W2 latency p50", "ms", False),
    "W2 p95": Metric("W2 latency p95", "ms", False),
    "W2 p99": Metric("W2 latency p99", "ms", False),
    "W3": Metric("W3 5k jobs awaiting 10 ms", "jobs/s", True),
    "W4": Metric("W4 bulk enqueue 100k", "jobs/s", True),
    "W5/1": Metric("W5 drain, 1 process", "jobs/s", True),
    "W5/2": Metric("W5 drain, 2 processes", "jobs/s", True),
    "W5/4": Metric("W5 drain, 4 processes", "jobs/s", True),
    "W6": Metric("W6 drain over 1M finished", "jobs/s", True),
    "W7 growth": Metric("W7 RSS growth over 200k", "%", False),
    "W7 rss": Metric("W7 RSS after 200k (all procs)", "MiB", False),
    "W8": Metric("W8 worker start to first job done", "ms", False),
}

CONVEYOR = ("conveyor-postgres", "conveyor-sqlite")
PEERS = ("pgqueuer", "procrastinate", "celery")
# benchmarks/limits: each store's own statements driven without Python, measured in W1.
LIMITS = {"conveyor-postgres": "limit-postgres", "conveyor-sqlite": "limit-sqlite"}


def summary(runs: list[float]) -> dict[str, float | list[float]]:
    return {
        "runs": runs,
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
    }


def best_peer(metric: str, medians: dict[str, float]) -> tuple[str, float] | None:
    """The peer with the best median of ``metric``, if any peer was measured."""
    peers = [(name, value) for name, value in medians.items() if name in PEERS]
    if not peers:
        return None
    pick = max if METRICS[metric].higher_is_better else min
    return pick(peers, key=lambda item: item[1])


def advantage(metric: str, value: float, reference: float) -> float | None:
    """How many times better ``value`` is than ``reference`` (> 1 is better)."""
    if METRICS[metric].higher_is_better:
        return value / reference if reference else None
    return reference / value if value else None


def share_of_limit(medians: dict[str, float]) -> str:
    """Each Conveyor store's median as a share of its store's raw ceiling, where measured."""
    shares = [
        f"{100 * medians[name] / medians[limit]:.0f}% ({name.removeprefix('conveyor-')})"
        for name, limit in LIMITS.items()
        if name in medians and medians.get(limit)
    ]
    return ", ".join(shares)
