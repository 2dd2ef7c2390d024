"""The dashboard's figures as operators read them: ages, moments in a zone, the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.dashboard.chart import HEIGHT, chart
from conveyor.dashboard.format import age, count, moment
from conveyor.stats import OutcomeCounts

NOON = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_age_uses_the_two_largest_units() -> None:
    assert age(None) == "-"
    assert age(timedelta(seconds=-5)) == "0s"
    assert age(timedelta(seconds=42)) == "42s"
    assert age(timedelta(minutes=3, seconds=5)) == "3m 05s"
    assert age(timedelta(hours=5, minutes=2, seconds=59)) == "5h 02m"
    assert age(timedelta(days=3, hours=4)) == "3d 4h"


def test_moment_is_shown_in_the_given_zone() -> None:
    assert moment(NOON) == "2026-07-01 12:00:00 UTC"
    assert moment(NOON, "America/Chicago") == "2026-07-01 07:00:00 CDT"
    assert moment(NOON, "Not/AZone") == "2026-07-01 12:00:00 UTC"
    assert moment(None) == "-"
    assert count(1234567) == "1,234,567"


def test_chart_stacks_completed_on_failures_scaled_to_the_peak() -> None:
    series = [
        OutcomeCounts(NOON, completed=30, failed=5, cancelled=0, retried=5),
        OutcomeCounts(NOON + timedelta(minutes=1), 0, 0, 0, 0),
    ]
    drawn = chart(series, label="%H:%M")
    first, empty = drawn.bars
    assert drawn.peak == 40 and drawn.completed == 30 and drawn.failed == 10
    assert first.failed_y + first.failed_height == HEIGHT  # failures sit on the axis
    assert first.ok_y + first.ok_height == first.failed_y  # completed runs on top
    assert round(first.ok_height / first.failed_height, 6) == 3
    assert empty.ok_height == empty.failed_height == 0
    assert (drawn.first_label, drawn.last_label) == ("12:00", "12:01")
    assert chart([], label="%H").bars == []
