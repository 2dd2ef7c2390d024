"""Schedule declarations: validation at definition time, and the rule a stored spec fires by."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from conveyor.errors import ConfigurationError, InvalidArgument, ScheduleInvalid
from conveyor.schedule import CatchUp, ScheduleSpec
from conveyor.scheduler.cron import CronRule, IntervalRule, zone

TenantPairs = Iterable[tuple[Any, str]]
TenantSource = Callable[[], TenantPairs | Awaitable[TenantPairs]]
"""``per_tenant=``: returns ``(tenant_id, zone)`` pairs; sync or async, called each cycle."""

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
MAX_EVERY = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Declared:
    """A schedule declared in code: its stored spec plus what only code can hold (the
    tenant source, and the payload field the tenant id goes into)."""

    spec: ScheduleSpec
    per_tenant: TenantSource | None = None
    tenant_field: str = "tenant_id"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidArgument(
            "name", "must be 1-200 characters: letters, digits and _ . : - (not first)"
        )
    return name


def make_spec(
    *,
    name: str,
    task: str,
    cron: str | None,
    every: timedelta | float | None,
    timezone: str,
    payload: Mapping[str, Any],
    queue: str | None,
    priority: int | None,
    catch_up: str,
    allow_overlap: bool,
    run_on_startup: bool,
    run_immediately: bool,
    initial_delay: timedelta | float | None,
    per_tenant: bool,
    source: str,
    now: datetime,
) -> ScheduleSpec:
    """Validate every option and build the spec; ``ConfigurationError`` (an invalid cron,
    an unknown zone, a bad option) or ``InvalidArgument`` names what is wrong."""
    check_name(name)
    if (cron is None) == (every is None):
        raise InvalidArgument("cron", "give exactly one of cron and every")
    try:
        zone(timezone)
    except ConfigurationError as exc:
        raise ScheduleInvalid("timezone", exc.message) from None
    try:
        policy = CatchUp(catch_up)
    except ValueError:
        known = ", ".join(c.value for c in CatchUp)
        raise InvalidArgument("catch_up", f"must be one of {known}") from None
    if queue is not None and (not queue or "\x00" in queue):
        raise InvalidArgument("queue", "must not be empty nor contain NUL characters")
    if priority is not None and not -(2**31) <= priority < 2**31:
        raise InvalidArgument("priority", "must fit in a 32-bit integer")
    anchor = None
    interval = None
    if cron is not None:
        if run_immediately or initial_delay is not None:
            raise InvalidArgument(
                "run_immediately", "run_immediately and initial_delay are for every= schedules"
            )
        try:
            CronRule(cron, timezone)
        except ConfigurationError as exc:
            raise ScheduleInvalid("cron", exc.message) from None
    else:
        assert every is not None  # exactly one of the two, checked above
        interval = _duration("every", every)
        if interval <= timedelta(0) or interval > MAX_EVERY:
            raise InvalidArgument("every", f"must be positive and at most {MAX_EVERY.days} days")
        delay = None if initial_delay is None else _duration("initial_delay", initial_delay)
        if delay is not None and (delay < timedelta(0) or delay > MAX_EVERY or run_immediately):
            raise InvalidArgument(
                "initial_delay",
                f"must be 0 to {MAX_EVERY.days} days, and not given with run_immediately",
            )
        # The first fire: at once, after the initial delay, or one interval from now.
        anchor = now if run_immediately else now + (interval if delay is None else delay)
    return ScheduleSpec(
        name=name,
        task=task,
        cron=cron,
        timezone=timezone,
        every=interval,
        anchor_at=anchor,
        payload=dict(payload),
        queue=queue,
        priority=priority,
        catch_up=policy,
        allow_overlap=allow_overlap,
        run_on_startup=run_on_startup,
        per_tenant=per_tenant,
        source=source,
    )


def _duration(field: str, value: timedelta | float) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(field, "must be a timedelta or a number of seconds")
    return timedelta(seconds=value)


def rule_of(spec: ScheduleSpec, timezone: str | None = None) -> CronRule | IntervalRule:
    """The rule ``spec`` fires by, its cron read in ``timezone`` (a tenant's) if given."""
    if spec.cron is not None:
        return CronRule(spec.cron, timezone or spec.timezone)
    assert spec.every is not None and spec.anchor_at is not None  # the table's CHECKs
    return IntervalRule(spec.every, spec.anchor_at)


def reanchored(spec: ScheduleSpec, old: ScheduleSpec) -> ScheduleSpec:
    """``spec`` keeping ``old``'s interval grid when the interval did not change."""
    if spec.every is not None and spec.every == old.every and old.anchor_at is not None:
        return replace(spec, anchor_at=old.anchor_at)
    return spec
