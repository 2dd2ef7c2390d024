"""Checking and normalising the arguments of the app's listing and admin methods: page
sizes, queue names, times, states and task names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from conveyor.errors import InvalidArgument, TaskNotFound
from conveyor.job import JobState

MAX_PAGE = 1000


def check_page(limit: int) -> None:
    """The one bound on a page of listed rows, shared by every listing method."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument("limit", f"must be between 1 and {MAX_PAGE}")


def queue_name(name: str) -> str:
    if not name:
        raise InvalidArgument("queue", "must not be empty")
    if "\x00" in name:
        raise InvalidArgument("queue", "must not contain NUL characters")
    return name


def aware(field: str, moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive time is refused (it would mean the host's zone)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidArgument(field, "must be timezone-aware (e.g. datetime.now(UTC))")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidArgument(field, "is out of range once converted to UTC") from None


def states(state: str | JobState | Sequence[str | JobState] | None) -> list[JobState] | None:
    if state is None:
        return None
    values = [state] if isinstance(state, str) else list(state)
    try:
        return [JobState(v) for v in values]
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidArgument("state", f"unknown state in {values!r}; known: {known}") from None


def task_names(
    task: str | Sequence[str] | None, get_task: Callable[[str], Any]
) -> list[str] | None:
    """The full names of ``task``: a registered short name means its full name; unknown
    names filter as given, so that jobs of tasks this process does not register can still
    be listed."""
    if task is None:
        return None
    resolved = []
    for name in [task] if isinstance(task, str) else list(task):
        try:
            resolved.append(get_task(name).name)
        except TaskNotFound:
            resolved.append(name)
    return resolved
