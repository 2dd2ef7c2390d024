"""One process's job counters and run-time histogram, and their JSON form for the store.

A worker keeps a ``Tally`` in memory and writes it with each heartbeat; a scrape sums the
tallies of every worker (and the folded totals of removed ones), so that the figures cover
the whole cluster without a write per job. Besides the counters that only grow, a tally
keeps the recent outcomes per minute (the last hour) and per hour (the last day): what the
dashboard charts, read without touching the jobs table.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.job import Job
from conveyor.stats import Activity, OutcomeCounts
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
# How many recent minutes and hours a tally keeps, counted back from its newest one; the
# hour bucket in progress is one more, so that a full day before it is kept too.
KEPT_MINUTES = 60
KEPT_HOURS = 25


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
    """Counters keyed by labels, which only grow (``rate_waits`` counts, by task, the jobs
    a rate limit held back: see ``Worker._count_rate_waits``; ``alert_failures``, by
    channel, the failed attempts to deliver an alert: see ``Deliverer``), and the recent
    per-minute and per-hour buckets, which roll."""

    finished: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    durations: dict[tuple[str, str], Durations] = field(default_factory=dict)
    rate_waits: Counter[str] = field(default_factory=Counter)
    alert_failures: Counter[str] = field(default_factory=Counter)
    # (minutes or hours since the epoch, outcome) -> runs that ended in that minute or hour
    minutes: Counter[tuple[int, str]] = field(default_factory=Counter)
    hours: Counter[tuple[int, str]] = field(default_factory=Counter)

    def finish(self, job: Job, outcome: str, seconds: float, at: datetime | None = None) -> None:
        """Count one run that ended; ``at`` (when it ended) also counts it in its minute
        and hour."""
        self.finished[(job.task, job.queue, outcome)] += 1
        # Not setdefault: it would build a Durations (and its buckets) for every job.
        durations = self.durations.get((job.task, job.queue))
        if durations is None:
            durations = self.durations[(job.task, job.queue)] = Durations()
        durations.observe(seconds)
        if at is not None:
            minute = int(at.timestamp()) // 60
            if (minute, outcome) not in self.minutes:
                self._forget_old(minute)
            self.minutes[(minute, outcome)] += 1
            self.hours[(minute // 60, outcome)] += 1

    def alert_failed(self, channel: str) -> None:
        """Count one failed attempt to deliver an alert through ``channel``."""
        self.alert_failures[channel] += 1

    def _forget_old(self, minute: int) -> None:
        """Drop the buckets a tally no longer keeps (once per new bucket, not per job), so
        that a long-lived worker's tally does not grow."""
        for counter, newest, kept in (
            (self.minutes, minute, KEPT_MINUTES),
            (self.hours, minute // 60, KEPT_HOURS),
        ):
            for key in [k for k in counter if k[0] <= newest - kept]:
                del counter[key]

    def add(self, other: Tally) -> None:
        self.finished.update(other.finished)
        for key, durations in other.durations.items():
            self.durations.setdefault(key, Durations()).add(durations)
        self.rate_waits.update(other.rate_waits)
        self.alert_failures.update(other.alert_failures)
        self.minutes.update(other.minutes)
        self.hours.update(other.hours)

    def to_json(self) -> str:
        return json.dumps(
            {
                "finished": [[*key, count] for key, count in sorted(self.finished.items())],
                "durations": [
                    [task, queue, d.total, d.buckets]
                    for (task, queue), d in sorted(self.durations.items())
                ],
                "rate_waits": [[task, count] for task, count in sorted(self.rate_waits.items())],
                "alert_failures": sorted(map(list, self.alert_failures.items())),
                "minutes": _recent(self.minutes, KEPT_MINUTES),
                "hours": _recent(self.hours, KEPT_HOURS),
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
            # Absent from the tallies of workers older than this field: none counted.
            for channel, count in data.get("alert_failures", []):
                tally.alert_failures[str(channel)] += int(count)
            for buckets, counter in (
                (data.get("minutes", []), tally.minutes),
                (data.get("hours", []), tally.hours),
            ):
                for number, outcome, count in buckets:
                    counter[(int(number), str(outcome))] += int(count)
        except (ValueError, TypeError):
            return cls()
        return tally

    def activity(self, now: datetime) -> Activity:
        """The runs that ended in each of the last 60 minutes and 24 hours before ``now``
        (the current minute and hour included), and every outcome's total."""
        minute = int(now.timestamp()) // 60
        totals: Counter[str] = Counter()
        for (_, _, outcome), count in self.finished.items():
            totals[outcome] += count
        return Activity(
            per_minute=_series(self.minutes, minute, 60, timedelta(minutes=1)),
            per_hour=_series(self.hours, minute // 60, 24, timedelta(hours=1)),
            totals={outcome: totals[outcome] for outcome in OUTCOMES},
        )

    @classmethod
    def merged(cls, texts: list[str | None]) -> Tally:
        total = cls()
        for text in texts:
            total.add(cls.from_json(text))
        return total


def _series(
    buckets: Counter[tuple[int, str]], newest: int, count: int, width: timedelta
) -> list[OutcomeCounts]:
    """``count`` consecutive buckets ending with ``newest``, oldest first, empty ones too."""
    seconds = int(width.total_seconds())
    return [
        OutcomeCounts(
            start=datetime.fromtimestamp(number * seconds, UTC),
            completed=buckets[(number, "completed")],
            failed=buckets[(number, "failed")],
            cancelled=buckets[(number, "cancelled")],
            retried=buckets[(number, "retried")],
        )
        for number in range(newest - count + 1, newest + 1)
    ]


def _recent(buckets: Counter[tuple[int, str]], kept: int) -> list[list[Any]]:
    """The buckets within ``kept`` of the newest one: a tally written with every heartbeat
    stays small however long its worker lives."""
    if not buckets:
        return []
    newest = max(number for number, _ in buckets)
    return [
        [number, outcome, count]
        for (number, outcome), count in sorted(buckets.items())
        if number > newest - kept
    ]


def outcome_of(job: Job, ack: Ack | None, *, cancelled: bool) -> str:
    """The ``outcome`` label of one finished run, from what the worker will write."""
    if cancelled:
        return "cancelled"
    if isinstance(ack, Failure):
        will_retry = ack.retry_at is not None and job.attempt < job.max_attempts
        return "retried" if will_retry else "failed"
    return "completed"  # a Completion, or completed inside the handler's transaction
