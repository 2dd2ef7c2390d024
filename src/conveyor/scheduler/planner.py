"""Which fire times a schedule owes at a moment, under its catch-up policy (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from conveyor.schedule import CatchUp
from conveyor.scheduler.cron import CronRule, IntervalRule, recent_fires

DEFAULT_GRACE = timedelta(seconds=60)
"""A fire this late is "missed" (the schedulers were down), not merely late (a slow cycle)."""
DEFAULT_CATCH_UP_LIMIT = 100
"""``catch_up="all"`` enqueues at most this many missed fires (the newest)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A fire time to decide: enqueue a job (``run``), or record it as missed."""

    fire_at: datetime
    run: bool


def plan_fires(
    rule: CronRule | IntervalRule,
    *,
    after: datetime,
    now: datetime,
    catch_up: CatchUp,
    grace: timedelta = DEFAULT_GRACE,
    limit: int = DEFAULT_CATCH_UP_LIMIT,
) -> list[Planned]:
    """The fires in ``(after, now]`` to decide, oldest first.

    Fires at most ``grace`` old are on time and always run. Older ones were missed while
    no scheduler ran: ``all`` runs them (the newest ``limit``), ``latest`` runs only the
    newest of them, ``skip`` runs none and records the newest as missed, so that the
    schedule's cursor moves past them.
    """
    due = recent_fires(rule, after, now, limit=limit)
    on_time = [Planned(t, True) for t in due if t >= now - grace]
    missed = [t for t in due if t < now - grace]
    if not missed:
        return on_time
    if catch_up is CatchUp.ALL:
        return [Planned(t, True) for t in missed] + on_time
    if catch_up is CatchUp.LATEST:
        return [Planned(missed[-1], True), *on_time]
    # skip: the newest missed fire is recorded as missed only to move the cursor past them.
    return on_time or [Planned(missed[-1], False)]
