"""Input types that refuse, with a 422, values the database could not store or compare."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime


def _no_nul(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold U+0000; SQLite would truncate at it.
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    return value


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment  # the app refuses naive times itself, with a clearer message
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 lies past year 9999 in UTC
        raise ValueError("out of range once converted to UTC") from None


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string without NUL characters."""

Moment = Annotated[datetime, AfterValidator(_in_utc)]
"""A datetime that, when aware, exists in UTC (returned converted to UTC)."""

AwareMoment = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An aware datetime that exists in UTC, returned converted to UTC."""


def nul_locations(value: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where NUL characters hide in a JSON value (in strings or in object keys)."""
    if isinstance(value, str):
        return [loc] if "\x00" in value else []
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += [(*loc, key)] if "\x00" in str(key) else nul_locations(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nul_locations(item, (*loc, index))
    return found
