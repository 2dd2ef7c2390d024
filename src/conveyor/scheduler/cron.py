"""Cron and interval rules, and the next fire time after a moment (pure, no I/O).

DST rule (the one Debian's cron follows, through cronsim): a fire time that falls in the
hour skipped when clocks spring forward runs at the first valid moment after the jump
(02:30 on the spring-forward day runs at 03:00); a fire time in the hour repeated when
clocks fall back runs once, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from conveyor.errors import ConfigurationError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ConfigurationError`` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {name!r} (use an IANA name such as 'America/Chicago' or 'UTC')"
        ) from exc


@dataclass(frozen=True, slots=True)
class CronRule:
    """A 5-field cron expression (or an ``@daily``-style alias) read in ``timezone``."""

    expression: str
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _fields: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = ALIASES.get(self.expression.strip().lower(), self.expression.strip())
        object.__setattr__(self, "_zone", zone(self.timezone))
        object.__setattr__(self, "_fields", fields)
        if len(fields.split()) != 5:
            raise ConfigurationError(
                f"invalid cron expression {self.expression!r}: expected 5 fields "
                "(minute hour day-of-month month day-of-week) or one of "
                + ", ".join(sorted(ALIASES))
            )
        try:
            CronSim(fields, datetime(2000, 1, 1, tzinfo=self._zone))
        except CronSimError as exc:
            raise ConfigurationError(f"invalid cron expression {self.expression!r}: {exc}") from exc

    def next_fire(self, after: datetime) -> datetime:
        """The first fire strictly after ``after`` (aware), in UTC."""
        local = after.astimezone(self._zone)
        upcoming = next(CronSim(self._fields, local))
        return upcoming.astimezone(UTC)

    def previous_fires(self, until: datetime) -> Iterator[datetime]:
        """Fires at or before ``until``, newest first, in UTC (the same DST rule as
        ``next_fire``: cronsim walks both ways alike)."""
        # Reverse iteration excludes its start; cron has whole minutes, so starting one
        # second past ``until`` (microseconds dropped) includes a fire exactly at ``until``.
        start = until.astimezone(self._zone).replace(microsecond=0) + timedelta(seconds=1)
        for moment in CronSim(self._fields, start, reverse=True):
            yield moment.astimezone(UTC)

    def in_zone(self, timezone: str) -> CronRule:
        """The same expression read in another zone (a tenant's)."""
        return CronRule(self.expression, timezone)


@dataclass(frozen=True, slots=True)
class IntervalRule:
    """Every ``every``, counted from ``anchor`` (so fires stay on a fixed grid across
    restarts instead of drifting by each run's start time)."""

    every: timedelta
    anchor: datetime

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ConfigurationError("an interval schedule needs a positive `every`")
        if self.anchor.tzinfo is None:
            raise ConfigurationError("an interval schedule's anchor must be timezone-aware")

    def next_fire(self, after: datetime) -> datetime:
        if after < self.anchor:
            return self.anchor.astimezone(UTC)
        periods = (after - self.anchor) // self.every + 1
        return (self.anchor + periods * self.every).astimezone(UTC)

    def previous_fires(self, until: datetime) -> Iterator[datetime]:
        """Fires at or before ``until``, newest first, in UTC."""
        if until < self.anchor:
            return
        moment = self.anchor + (until - self.anchor) // self.every * self.every
        while moment >= self.anchor:
            yield moment.astimezone(UTC)
            moment -= self.every

    def in_zone(self, timezone: str) -> IntervalRule:
        """An interval does not depend on the zone: the rule itself."""
        return self


def recent_fires(
    rule: CronRule | IntervalRule, after: datetime, until: datetime, *, limit: int
) -> list[datetime]:
    """The newest ``limit`` fires in ``(after, until]``, oldest first. Walks back from
    ``until``, so a long gap (a year of a per-minute rule) costs ``limit`` steps, not one
    step per missed fire."""
    newest_first: list[datetime] = []
    for moment in rule.previous_fires(until):
        if moment <= after or len(newest_first) >= limit:
            break
        newest_first.append(moment)
    return newest_first[::-1]


def fires_between(
    rule: CronRule | IntervalRule, after: datetime, until: datetime, *, limit: int
) -> list[datetime]:
    """Every fire in ``(after, until]``, at most ``limit`` (the oldest are kept)."""
    fires: list[datetime] = []
    moment = after
    while len(fires) < limit:
        moment = rule.next_fire(moment)
        if moment > until:
            break
        fires.append(moment)
    return fires
