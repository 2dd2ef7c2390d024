"""A job's timeline and the actions its state allows, read from the job record alone.

The store keeps the moments a job passed through: its creation, each ended attempt's
error stamped with that attempt's start (a rescue is recorded as a ``LeaseExpired``
error), the start of its latest attempt, its next ``run_at`` and its end. So the timeline
shows every attempt's start and how it ended. Errors written before the store stamped
starts carry none: such an attempt shows its end alone (the latest attempt's start is
still known from the job row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.job import FINAL_STATES, Job, JobError, JobState

RESCUE_ERROR = "LeaseExpired"


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a timeline: when, a short kind (for styling) and what happened."""

    at: datetime
    kind: str
    text: str


def timeline(job: Job, *, now: datetime) -> list[Moment]:
    """What happened to ``job``, oldest first.

    The moments are listed in the order they happened by construction (created, then
    each attempt's start and end, then what comes next) rather than sorted by their
    stamps: a start comes from the database's clock and an error's time from the
    worker's, and a skew between the two must not put an end before its start.
    """
    moments = [Moment(job.created_at, "created", _created(job))]
    for error in job.errors:
        started = error.started_at
        if started is None and error.attempt == job.attempt:
            started = job.started_at  # an error from before the stamp: the row knows
        if started is not None:
            moments.append(_start(error.attempt, started))
        retried = error.attempt < job.attempt or _is_waiting(job)
        moments.append(_end(error, retried=retried))
    ended = job.errors[-1].attempt if job.errors else 0
    if job.started_at is not None and job.attempt > ended:
        moments.append(_start(job.attempt, job.started_at))  # the attempt without an error
    if job.state in FINAL_STATES and job.finished_at is not None:
        moments.append(_final(job, job.finished_at))
    elif _is_waiting(job) and job.run_at > now:
        due = "retry" if job.state is JobState.RETRYING else "run"
        moments.append(Moment(job.run_at, "due", f"due to {due}"))
    return moments


def _start(attempt: int, at: datetime) -> Moment:
    return Moment(at, "started", f"attempt {attempt} started")


def _end(error: JobError, *, retried: bool) -> Moment:
    """How an attempt that left an error ended: rescued, or failed (and then retried)."""
    if error.type == RESCUE_ERROR:
        return Moment(error.at, "rescued", f"attempt {error.attempt} rescued: {error.message}")
    then = "; retried" if retried else ""
    text = f"attempt {error.attempt} failed: {error.type}: {error.message}{then}"
    return Moment(error.at, "failed", text)


def _final(job: Job, at: datetime) -> Moment:
    if job.state is JobState.COMPLETED:
        return Moment(at, "completed", f"attempt {job.attempt} completed")
    if job.state is JobState.CANCELLED:
        return Moment(at, "cancelled", "cancelled")
    return Moment(at, "failed", "failed for good")


def _is_waiting(job: Job) -> bool:
    """Whether another attempt may still come (the job is not running and not final)."""
    return job.state in (JobState.AVAILABLE, JobState.RETRYING, JobState.SCHEDULED)


def _created(job: Job) -> str:
    if job.rerun_of is not None:
        return f"created as a re-run of job {job.rerun_of}"
    if job.schedule is not None:
        return f"created by schedule {job.schedule.name}"
    return "created"


def allowed_actions(state: JobState) -> list[str]:
    """The buttons a job in ``state`` gets: a forbidden action is not offered (and the
    page refuses its POST)."""
    actions = []
    if state in (JobState.FAILED, JobState.CANCELLED):
        actions.append("retry")
    if state in FINAL_STATES:
        actions.append("rerun")
    else:
        actions.append("cancel")
    return actions
