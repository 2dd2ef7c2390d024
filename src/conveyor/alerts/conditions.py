"""The alert rules that watch a condition of the cluster: a task's failure rate, a queue's
lag, and waiting jobs with no live worker. Pure: each reads a ``ClusterSnapshot``."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from conveyor.metrics.snapshot import ClusterSnapshot
from conveyor.metrics.tally import Tally

FAILURE_RATE = "task-failure-rate"
LAG = "queue-lag"
UNSERVED = "queue-unserved"
CONDITION_RULES = (FAILURE_RATE, LAG, UNSERVED)
"""Rules whose incident stays open while the condition holds and resolves when it clears."""

# Attempts that raised (for good or with a retry to come) against every attempt that ended;
# a cancelled run says nothing about the task's health.
_FAILED_OUTCOMES = ("failed", "retried")
_RUN_OUTCOMES = ("completed", "failed", "retried")


@dataclass(frozen=True)
class Condition:
    """One rule found true for one subject (a task or a queue) at one check."""

    rule: str
    subject: str
    headline: str
    """The mail's subject after ``[conveyor]``."""
    details: str


@dataclass(frozen=True)
class Thresholds:
    """The settings the rules read (``CONVEYOR_ALERT_*``), and where the links point."""

    lag_seconds: float
    failure_rate: float
    failure_window: timedelta
    failure_min_runs: int
    unserved_grace: timedelta
    """How long a due job may wait for a worker before its queue counts as unserved (one
    lease period: a worker restarting or a deployment rolling is not an incident)."""
    public_url: str

    def link(self, query: str) -> str:
        return f"{self.public_url.rstrip('/')}/jobs?{query}"


def _waiting(snapshot: ClusterSnapshot) -> dict[str, tuple[datetime, int]]:
    """Each queue with a due job: the oldest due ``run_at`` and the jobs available now."""
    oldest: dict[str, datetime] = {}
    available: Counter[str] = Counter()
    for row in snapshot.depths:
        if row.state == "available":
            available[row.queue] += row.count
        due = row.oldest_due
        if due is not None and (row.queue not in oldest or due < oldest[row.queue]):
            oldest[row.queue] = due
    return {queue: (due, available[queue]) for queue, due in oldest.items()}


def _serving(snapshot: ClusterSnapshot, queue: str) -> int:
    """Live workers that claim from ``queue`` (a draining worker claims nothing)."""
    return sum(
        1
        for w in snapshot.workers
        if w.state == "running" and (w.queues is None or queue in w.queues)
    )


def lagging_queues(snapshot: ClusterSnapshot, limits: Thresholds) -> list[Condition]:
    found: list[Condition] = []
    for queue, (due, available) in sorted(_waiting(snapshot).items()):
        lag = (snapshot.now - due).total_seconds()
        if lag <= limits.lag_seconds:
            continue
        found.append(
            Condition(
                LAG,
                queue,
                f"queue {queue}: the oldest job has waited {lag:.0f} s",
                f"Queue {queue}: the oldest job that could run has waited {lag:.0f} s "
                f"(threshold {limits.lag_seconds:.0f} s); {available} available, "
                f"{_serving(snapshot, queue)} live worker(s) take this queue.\n"
                f"Jobs: {limits.link(f'queue={queue}&state=available')}\n",
            )
        )
    return found


def unserved_queues(snapshot: ClusterSnapshot, limits: Thresholds) -> list[Condition]:
    found: list[Condition] = []
    for queue, (due, available) in sorted(_waiting(snapshot).items()):
        waited = snapshot.now - due
        if waited < limits.unserved_grace or _serving(snapshot, queue):
            continue
        found.append(
            Condition(
                UNSERVED,
                queue,
                f"queue {queue}: jobs wait and no live worker takes them",
                f"Queue {queue} has {available} job(s) available (the oldest due "
                f"{waited.total_seconds():.0f} s ago) and no live worker takes jobs from it.\n"
                f"Start one: conveyor worker --queues {queue} (or a worker without --queues).\n"
                f"Jobs: {limits.link(f'queue={queue}&state=available')}\n",
            )
        )
    return found


class FailureRates:
    """Each task's share of failed attempts over a sliding window, from the cluster's
    cumulative tallies read at successive checks (the counters only grow, so the window's
    runs are the difference between now and the check one window ago)."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._history: deque[tuple[datetime, dict[str, tuple[int, int]]]] = deque()

    @staticmethod
    def _counts(tally: Tally) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for (task, _queue, outcome), n in tally.finished.items():
            failed, runs = counts.get(task, (0, 0))
            counts[task] = (
                failed + (n if outcome in _FAILED_OUTCOMES else 0),
                runs + (n if outcome in _RUN_OUTCOMES else 0),
            )
        return counts

    def observe(self, now: datetime, tally: Tally) -> dict[str, tuple[int, int]]:
        """Record this check; (failed, runs) of each task since the check one window ago
        (or since the first check, in a process younger than the window)."""
        current = self._counts(tally)
        self._history.append((now, current))
        # Keep the newest check at or before the window's start as the base.
        while len(self._history) > 2 and self._history[1][0] <= now - self.window:
            self._history.popleft()
        if len(self._history) < 2:
            return {}
        base = self._history[0][1]
        window: dict[str, tuple[int, int]] = {}
        for task, (failed, runs) in current.items():
            failed_before, runs_before = base.get(task, (0, 0))
            window[task] = (max(failed - failed_before, 0), max(runs - runs_before, 0))
        return window

    def over(self, snapshot: ClusterSnapshot, limits: Thresholds) -> list[Condition]:
        found: list[Condition] = []
        for task, (failed, runs) in sorted(self.observe(snapshot.now, snapshot.tally).items()):
            if runs < limits.failure_min_runs or failed / runs <= limits.failure_rate:
                continue
            found.append(
                Condition(
                    FAILURE_RATE,
                    task,
                    f"task {task}: {failed / runs:.0%} of runs failed",
                    f"Task {task} failed {failed} of its last {runs} runs ({failed / runs:.0%}) "
                    f"within {self.window.total_seconds():.0f} s; the threshold is "
                    f"{limits.failure_rate:.0%}.\n"
                    f"Jobs: {limits.link(f'task={task}')}\n",
                )
            )
        return found


def cleared(rule: str, subject: str) -> tuple[str, str]:
    """The title and text of the 'resolved' message of a condition rule."""
    if rule == FAILURE_RATE:
        return (
            f"task {subject} failure rate",
            f"Task {subject}'s failure rate is back under the threshold.\n",
        )
    if rule == LAG:
        return f"queue {subject} lag", f"Queue {subject}: no job waits past the threshold now.\n"
    return (
        f"queue {subject} without a live worker",
        f"Queue {subject}: a live worker takes its jobs now, or none waits.\n",
    )
