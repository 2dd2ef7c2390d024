"""Schedules as values: a definition, its stored state, and its fires."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from conveyor.job import Job, JobState


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
            **spec_fields(spec, spec.payload),
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


def spec_fields(spec: ScheduleSpec, payload: Any) -> dict[str, Any]:
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
