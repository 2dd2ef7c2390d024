"""Cron and interval rules: next fire times, aliases, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import ConfigurationError
from conveyor.scheduler.cron import CronRule, IntervalRule, fires_between

CHICAGO = ZoneInfo("America/Chicago")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


def test_daily_cron_fires_at_local_time_in_its_zone() -> None:
    rule = CronRule("0 2 * * *", "America/Chicago")
    fire = rule.next_fire(local(2026, 6, 1, 12, 0))
    assert fire.tzinfo is UTC
    assert fire.astimezone(CHICAGO) == local(2026, 6, 2, 2, 0)
    assert fire == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)  # CDT is UTC-5


def test_next_fire_is_strictly_after_the_given_moment() -> None:
    rule = CronRule("0 2 * * *", "UTC")
    at_fire = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
    assert rule.next_fire(at_fire) == at_fire + timedelta(days=1)


def test_spring_forward_runs_a_skipped_time_once_at_the_next_valid_moment() -> None:
    rule = CronRule("30 2 * * *", "America/Chicago")  # 2026-03-08 02:00 jumps to 03:00
    fires = fires_between(rule, local(2026, 3, 7, 12, 0), local(2026, 3, 10, 12, 0), limit=10)
    assert [f.astimezone(CHICAGO).replace(tzinfo=None) for f in fires] == [
        datetime(2026, 3, 8, 3, 0),
        datetime(2026, 3, 9, 2, 30),
        datetime(2026, 3, 10, 2, 30),
    ]


def test_fall_back_runs_a_repeated_time_once() -> None:
    rule = CronRule("30 1 * * *", "America/Chicago")  # 2026-11-01 01:00-02:00 happens twice
    fires = fires_between(rule, local(2026, 10, 31, 12, 0), local(2026, 11, 2, 12, 0), limit=10)
    local_days = [f.astimezone(CHICAGO).date().isoformat() for f in fires]
    assert local_days == ["2026-11-01", "2026-11-02"]


def test_aliases_are_accepted() -> None:
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert CronRule("@daily").next_fire(start) == datetime(2026, 6, 2, tzinfo=UTC)
    assert CronRule("@hourly").next_fire(start) == datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert CronRule("@weekly").next_fire(start).weekday() == 6  # Sunday


@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "every day", "@sometimes"])
def test_an_invalid_expression_is_refused_with_a_clear_message(expression: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid cron expression"):
        CronRule(expression)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        CronRule("0 2 * * *", "Mars/Olympus_Mons")


def test_interval_fires_on_a_fixed_grid_from_its_anchor() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    rule = IntervalRule(timedelta(minutes=15), anchor)
    assert rule.next_fire(anchor - timedelta(hours=1)) == anchor
    assert rule.next_fire(anchor) == anchor + timedelta(minutes=15)
    assert rule.next_fire(anchor + timedelta(minutes=16)) == anchor + timedelta(minutes=30)


def test_fires_between_is_bounded_by_its_limit() -> None:
    rule = IntervalRule(timedelta(seconds=1), datetime(2026, 1, 1, tzinfo=UTC))
    fires = fires_between(
        rule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), limit=5
    )
    assert len(fires) == 5


def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        IntervalRule(timedelta(0), datetime(2026, 1, 1, tzinfo=UTC))
