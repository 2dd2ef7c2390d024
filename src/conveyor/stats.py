"""What an operator reads about the cluster: counts by queue and state, throughput, workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.job import JobState


@dataclass(frozen=True, slots=True)
class QueueCount:
    """How many jobs one queue holds in one state."""

    queue: str
    state: JobState
    count: int


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """How many jobs reached ``state`` (a final state) during the minute starting at ``minute``."""

    minute: datetime
    state: JobState
    count: int


@dataclass(frozen=True, slots=True)
class JobStats:
    """What an operator asks first: how many, how fast, how far behind."""

    counts: list[QueueCount]
    finished_per_minute: list[MinuteCount]
    oldest_waiting_run_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process as the registry knows it.

    ``state``: ``running``, ``stopping`` (draining), ``stopped`` (exited cleanly) or
    ``dead`` (stopped heart-beating; marked by another worker).
    """

    id: str
    host: str
    pid: int
    queues: list[str] | None
    concurrency: int
    executors: int
    running: int
    completed: int
    state: str
    started_at: datetime
    last_heartbeat_at: datetime
    stopped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Open jobs of one queue in one state; ``oldest_due`` is the ``run_at`` of the
    longest-waiting one that could run now (``None`` for running jobs, or none due)."""

    queue: str
    state: str
    count: int
    oldest_due: datetime | None


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """Job runs that ended during one minute or hour starting at ``start``, by outcome
    (``retried``: failed and scheduled again)."""

    start: datetime
    completed: int
    failed: int
    cancelled: int
    retried: int


@dataclass(frozen=True, slots=True)
class Activity:
    """What the workers did lately, from their tallies: runs ended per minute over the
    last hour and per hour over the last day (oldest first), and each outcome's total."""

    per_minute: list[OutcomeCounts]
    per_hour: list[OutcomeCounts]
    totals: dict[str, int]
