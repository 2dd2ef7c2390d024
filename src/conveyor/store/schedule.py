"""The dataclasses the Store's schedule methods take and return (schedules and their fires)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.job import Job, JobState

if TYPE_CHECKING:
    from conveyor.store.base import NewJob


class CatchUp(StrEnum):
    """What a schedule does with fire times that passed while no scheduler ran."""

    LATEST = "latest"
    """One fire, for the most recent missed time (the default)."""
    ALL = "all"
    """Every missed time, up to a bound (the newest ones are kept)."""
    SKIP = "skip"
    """None: missed times are recorded as ``missed`` and the schedule waits for the next."""


class FireOutcome(StrEnum):
    """How one (schedule, tenant, fire time) was decided."""

    ENQUEUED = "enqueued"
    """A job was enqueued for it."""
    SKIPPED = "skipped"
    """Overlap is not allowed and the previous run of the schedule had not finished."""
    MISSED = "missed"
    """Passed while no scheduler ran, and the catch-up policy dropped it."""
    DUPLICATE = "duplicate"
    """Another scheduler had already decided it (never stored: a return value only)."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule's definition as stored.

    Exactly one of ``cron`` (read in ``timezone``) and ``every`` is set. An interval
    schedule fires at ``anchor_at + k * every``. ``payload`` is the job payload (a per
    tenant schedule adds the tenant id to it at each fire). ``queue``/``priority``
    ``None`` take the task's own.
    """

    name: str
    task: str
    cron: str | None = None
    timezone: str = "UTC"
    every: timedelta | None = None
    anchor_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    catch_up: CatchUp = CatchUp.LATEST
    allow_overlap: bool = True
    run_on_startup: bool = False
    per_tenant: bool = False
    source: str = "runtime"


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A stored schedule with its state: paused or not, and its most recent fire.

    ``last_job_state`` is the state of the job of the most recent enqueued fire now
    (``None`` when it never fired or the job was pruned). ``next_fire_at`` is filled in by
    the app, which knows the rule; the store leaves it ``None``.
    """

    spec: ScheduleSpec
    paused: bool
    created_at: datetime
    updated_at: datetime
    last_fire_at: datetime | None = None
    last_job_id: int | None = None
    last_job_state: JobState | None = None
    startup_fired_at: datetime | None = None
    next_fire_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def to_json(self) -> dict[str, Any]:
        """The schedule as the API and the CLI's ``--json`` show it."""
        spec = self.spec

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            **_spec_fields(spec, spec.payload),
            "paused": self.paused,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_fire_at": iso(self.next_fire_at),
            "last_fire_at": iso(self.last_fire_at),
            "last_job_id": self.last_job_id,
            "last_job_state": None if self.last_job_state is None else self.last_job_state.value,
        }


@dataclass(frozen=True, slots=True)
class Fire:
    """One fire time of one schedule (and tenant: ``""`` when not per tenant).

    ``kind``: ``"rule"`` for the schedule's own fire times (the newest one is where the
    schedule's next fires are counted from), ``"manual"`` for a trigger-now,
    ``"startup"`` for a run-on-startup fire.
    """

    schedule: str
    fire_at: datetime
    tenant: str = ""
    kind: str = "rule"


@dataclass(frozen=True, slots=True)
class FireResult:
    """What ``record_fire`` did: the outcome, and the job when one was enqueued."""

    outcome: FireOutcome
    job: Job | None = None


def spec_params(
    spec: ScheduleSpec, now: datetime, encode_time: Callable[[datetime], Any]
) -> dict[str, Any]:
    """The named parameters of ``save_schedule``/``create_schedule``/``update_schedule``."""
    return {
        **_spec_fields(spec, json.dumps(spec.payload)),
        "anchor_at": None if spec.anchor_at is None else encode_time(spec.anchor_at),
        "now": encode_time(now),
    }


def _spec_fields(spec: ScheduleSpec, payload: Any) -> dict[str, Any]:
    """A definition's fields as plain values, in the order ``to_json`` shows them; the
    payload as the caller encodes it (an object for JSON, JSON text for a statement)."""
    return {
        "name": spec.name,
        "task": spec.task,
        "cron": spec.cron,
        "every_seconds": None if spec.every is None else spec.every.total_seconds(),
        "timezone": spec.timezone,
        "payload": payload,
        "queue": spec.queue,
        "priority": spec.priority,
        "catch_up": spec.catch_up.value,
        "allow_overlap": spec.allow_overlap,
        "run_on_startup": spec.run_on_startup,
        "per_tenant": spec.per_tenant,
        "source": spec.source,
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
