"""The Store's schedule methods as a protocol, and their parameter encoding."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.schedule import Fire, FireResult, ScheduleInfo, ScheduleSpec, spec_fields

if TYPE_CHECKING:
    from conveyor.store.base import NewJob


def spec_params(
    spec: ScheduleSpec, now: datetime, encode_time: Callable[[datetime], Any]
) -> dict[str, Any]:
    """The named parameters of ``save_schedule``/``create_schedule``/``update_schedule``."""
    return {
        **spec_fields(spec, json.dumps(spec.payload)),
        "anchor_at": None if spec.anchor_at is None else encode_time(spec.anchor_at),
        "now": encode_time(now),
    }


def fire_params(fire: Fire, encode_time: Callable[[datetime], Any]) -> dict[str, Any]:
    """The named parameters that identify one fire row."""
    return {
        "schedule": fire.schedule,
        "tenant": fire.tenant,
        "kind": fire.kind,
        "fire_at": encode_time(fire.fire_at),
        "job_tenant": fire.tenant or None,
    }


class ScheduleStore(Protocol):
    """The schedule methods of the ``Store`` (its other methods are in ``store.base``)."""

    async def save_schedules(self, *, specs: Sequence[ScheduleSpec], now: datetime) -> None:
        """Upsert code-declared schedules, keeping their state (paused, fires)."""
        ...

    async def create_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        """Raises ``ScheduleExists``."""
        ...

    async def update_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        """Replace the definition of ``spec.name``; raises ``ScheduleNotFound``."""
        ...

    async def pause_schedule(self, *, name: str, paused: bool, now: datetime) -> ScheduleInfo:
        """Pause or resume; raises ``ScheduleNotFound``."""
        ...

    async def delete_schedules(self, *, names: Sequence[str]) -> int:
        """Delete schedules and their fire history; returns how many schedules."""
        ...

    async def list_schedules(self) -> list[ScheduleInfo]: ...

    async def get_schedule(self, *, name: str) -> ScheduleInfo:
        """Raises ``ScheduleNotFound``."""
        ...

    async def latest_fires(self) -> dict[tuple[str, str], datetime]:
        """The newest decided ``"rule"`` fire time per (schedule, tenant)."""
        ...

    async def record_fire(
        self, *, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
    ) -> FireResult:
        """Decide one fire exactly once across every scheduler, in one transaction.

        Returns ``DUPLICATE`` when the fire was already decided. Otherwise the fire is
        recorded as ``MISSED`` (``job`` is ``None``), ``SKIPPED`` (``allow_overlap`` is
        false and a job of the same schedule and tenant has not finished), or
        ``ENQUEUED`` with ``job`` inserted and stamped with the fire.
        """
        ...

    async def claim_startup_fire(self, *, name: str, since: datetime, now: datetime) -> bool:
        """True for exactly one caller among those asking while the schedule's last
        startup fire is older than ``since``."""
        ...

    async def prune_fires(self, *, before: datetime) -> int:
        """Forget fires recorded before ``before`` (each rule's cursor is kept apart)."""
        ...
