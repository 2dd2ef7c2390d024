"""Job and JobState: the record of one unit of background work and the states it moves through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job is in its life. Each member says who moves a job in and out."""

    SCHEDULED = "scheduled"
    """Enqueued with ``run_at`` in the future. Becomes claimable once ``run_at`` passes."""
    AVAILABLE = "available"
    """Waiting for a worker. Entered at enqueue, by the rescuer, or by an explicit retry;
    left when a worker claims it (``running``) or an operator cancels it."""
    RUNNING = "running"
    """Held by a worker through a lease. Left by the worker's ack (``completed``,
    ``retrying``, ``failed``), by the rescuer when the lease expires, or by cancellation."""
    RETRYING = "retrying"
    """Failed an attempt and waits for its backoff (``run_at``); claimable again after it."""
    COMPLETED = "completed"
    """Final: the handler returned. Only a re-run (a new job) follows."""
    FAILED = "failed"
    """Final, the dead-letter state: attempts exhausted or discarded. An explicit retry
    makes it ``available`` again."""
    CANCELLED = "cancelled"
    """Final: cancelled by an operator. An explicit retry makes it ``available`` again."""

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
)
WAITING_STATES: frozenset[JobState] = frozenset(
    {JobState.SCHEDULED, JobState.AVAILABLE, JobState.RETRYING}
)

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.SCHEDULED: frozenset({JobState.AVAILABLE, JobState.RUNNING, JobState.CANCELLED}),
    JobState.AVAILABLE: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {
            JobState.COMPLETED,
            JobState.RETRYING,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.AVAILABLE,  # rescued after its lease expired, or released on shutdown
        }
    ),
    JobState.RETRYING: frozenset({JobState.AVAILABLE, JobState.RUNNING, JobState.CANCELLED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset({JobState.AVAILABLE}),
    JobState.CANCELLED: frozenset({JobState.AVAILABLE}),
}
"""Which state may follow which. ``scheduled``/``retrying`` jobs are claimed directly once
their ``run_at`` has passed, so they may go straight to ``running``."""


def can_transition(current: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class JobError:
    """One failed attempt: what was raised, when, and when that attempt had started.

    ``started_at`` is the attempt's start, which the store writes from the job row as it
    appends the error; it is ``None`` for errors recorded before the store kept it.
    """

    attempt: int
    type: str
    message: str
    traceback: str
    at: datetime
    started_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "attempt": self.attempt,
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "at": self.at.isoformat(),
        }
        if self.started_at is not None:
            data["started_at"] = self.started_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobError:
        return cls(
            attempt=int(data["attempt"]),
            type=str(data["type"]),
            message=str(data["message"]),
            traceback=str(data.get("traceback", "")),
            at=datetime.fromisoformat(data["at"]),
            started_at=_optional_time(data.get("started_at")),
        )


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running job has got: ``done`` of ``total`` units (total may be unknown)."""

    done: int
    total: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total}


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on a running job. Every write by the worker presents ``token``."""

    job_id: int
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ScheduledFrom:
    """The schedule fire a job was enqueued for: schedule name, fire time (UTC), tenant."""

    name: str
    fire_at: datetime
    tenant: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "fire_at": self.fire_at.isoformat(), "tenant": self.tenant}


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one job row. Immutable: the store returns a fresh one after each change."""

    id: int
    task: str
    queue: str
    state: JobState
    payload: dict[str, Any]
    priority: int
    attempt: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress | None = None
    result: Any = None
    errors: tuple[JobError, ...] = ()
    checkpoint: Any = None
    idempotency_key: str | None = None
    rerun_of: int | None = None
    timeout_seconds: float | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    batch_id: int | None = None
    """The batch this job is a child of (see ``conveyor.batch``); not part of the job JSON."""
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_key: str | None = None
    fairness_key: str | None = None
    traceparent: str | None = None
    """The W3C ``traceparent`` of the span that enqueued the job (the optional
    OpenTelemetry tracing); ``None`` without it."""
    schedule: ScheduledFrom | None = None

    @property
    def lease(self) -> Lease | None:
        if self.lease_token is None or self.lease_expires_at is None:
            return None
        return Lease(self.id, self.lease_token, self.lease_expires_at)

    def to_json(self) -> dict[str, Any]:
        """The job as DESIGN.md §5 defines it for the API and the CLI's ``--json``, followed
        by ``schedule`` (the fire it came from, or ``None``)."""
        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "state": self.state.value,
            "payload": self.payload,
            "priority": self.priority,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "run_at": _iso(self.run_at),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": self.progress.to_json() if self.progress else None,
            "result": self.result,
            "errors": [e.to_json() for e in self.errors],
            "checkpoint": self.checkpoint,
            "idempotency_key": self.idempotency_key,
            "rerun_of": self.rerun_of,
            "schedule": self.schedule.to_json() if self.schedule else None,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a keyset-paginated listing, newest job first.

    ``next_after`` is the cursor for the following page (``None`` on the last page). Jobs
    inserted while paging have larger ids and never shift later pages.
    """

    jobs: list[Job]
    next_after: int | None
