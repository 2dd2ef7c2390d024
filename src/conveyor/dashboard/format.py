"""How the dashboard writes times, ages and counts: pure functions, used as template filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def age(delta: timedelta | None) -> str:
    """A duration as an operator reads it: ``42s``, ``3m 20s``, ``5h 02m``, ``3d 4h``."""
    if delta is None:
        return "-"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def moment(when: datetime | None, zone: str = "UTC") -> str:
    """A point in time in ``zone`` (an IANA name), with the zone's abbreviation."""
    if when is None:
        return "-"
    try:
        local = when.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        local = when
    return local.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def count(number: int) -> str:
    """``1234567`` as ``1,234,567``."""
    return f"{number:,}"
