"""One process's job counters and run-time histogram, and their JSON form for the store.

A worker keeps a ``Tally`` in memory and writes it with each heartbeat; a scrape sums the
tallies of every worker (and the folded totals of removed ones), so that the figures cover
the whole cluster without a write per job.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conveyor.job import Job
from conveyor.store.base import Ack, Failure

# Upper bounds (seconds) of the handler run-time histogram's buckets; +Inf is implied.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
OUTCOMES = ("completed", "failed", "cancelled", "retried")


@dataclass
class Durations:
    """One (task, queue)'s histogram: a count per bucket (the last is +Inf) and the sum."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.total += seconds

    def add(self, other: Durations) -> None:
        for index, count in enumerate(other.buckets[: len(self.buckets)]):
            self.buckets[index] += count
        self.total += other.total


@dataclass
class Tally:
    """Counters keyed by labels; every figure only grows. ``rate_waits`` counts, by task,
    the jobs a rate limit held back (see ``Worker._count_rate_waits``)."""

    finished: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    durations: dict[tuple[str, str], Durations] = field(default_factory=dict)
    rate_waits: Counter[str] = field(default_factory=Counter)

    def finish(self, job: Job, outcome: str, seconds: float) -> None:
        self.finished[(job.task, job.queue, outcome)] += 1
        self.durations.setdefault((job.task, job.queue), Durations()).observe(seconds)

    def add(self, other: Tally) -> None:
        self.finished.update(other.finished)
        for key, durations in other.durations.items():
            self.durations.setdefault(key, Durations()).add(durations)
        self.rate_waits.update(other.rate_waits)

    def to_json(self) -> str:
        return json.dumps(
            {
                "finished": [[*key, count] for key, count in sorted(self.finished.items())],
                "durations": [
                    [task, queue, d.total, d.buckets]
                    for (task, queue), d in sorted(self.durations.items())
                ],
                "rate_waits": [[task, count] for task, count in sorted(self.rate_waits.items())],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> Tally:
        """The tally a ``to_json`` wrote; an empty one for ``None`` or unreadable text
        (a scrape must not fail over one bad row)."""
        tally = cls()
        if not text:
            return tally
        try:
            data: dict[str, Any] = json.loads(text)
            for task, queue, outcome, count in data.get("finished", []):
                tally.finished[(str(task), str(queue), str(outcome))] += int(count)
            for task, queue, total, buckets in data.get("durations", []):
                durations = Durations([int(b) for b in buckets], float(total))
                tally.durations.setdefault((str(task), str(queue)), Durations()).add(durations)
            for task, count in data.get("rate_waits", []):
                tally.rate_waits[str(task)] += int(count)
        except (ValueError, TypeError):
            return cls()
        return tally

    @classmethod
    def merged(cls, texts: list[str | None]) -> Tally:
        total = cls()
        for text in texts:
            total.add(cls.from_json(text))
        return total


def outcome_of(job: Job, ack: Ack | None, *, cancelled: bool) -> str:
    """The ``outcome`` label of one finished run, from what the worker will write."""
    if cancelled:
        return "cancelled"
    if isinstance(ack, Failure):
        will_retry = ack.retry_at is not None and job.attempt < job.max_attempts
        return "retried" if will_retry else "failed"
    return "completed"  # a Completion, or completed inside the handler's transaction
