"""A job's timeline and the actions its state allows, read from the job record alone.

The store keeps the moments a job passed through: its creation, the start of its latest
attempt, each failed attempt's error (with a rescue recorded as a ``LeaseExpired``
error), its next ``run_at`` and its end. Earlier attempts' start times are not kept, so
the timeline shows an attempt's start only for the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.job import FINAL_STATES, Job, JobState

RESCUE_ERROR = "LeaseExpired"


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a timeline: when, a short kind (for styling) and what happened."""

    at: datetime
    kind: str
    text: str


def timeline(job: Job, *, now: datetime) -> list[Moment]:
    """What happened to ``job``, oldest first."""
    moments = [Moment(job.created_at, "created", _created(job))]
    for error in job.errors:
        if error.type == RESCUE_ERROR:
            text = f"attempt {error.attempt} rescued: {error.message}"
            moments.append(Moment(error.at, "rescued", text))
        else:
            moments.append(
                Moment(error.at, "failed", f"attempt {error.attempt} failed: {error.type}")
            )
    if job.started_at is not None:
        moments.append(Moment(job.started_at, "started", f"attempt {job.attempt} started"))
    if job.state in FINAL_STATES and job.finished_at is not None:
        moments.append(Moment(job.finished_at, job.state.value, job.state.value))
    elif job.state in (JobState.RETRYING, JobState.SCHEDULED) and job.run_at > now:
        moments.append(Moment(job.run_at, "due", "due to run"))
    return sorted(moments, key=lambda m: m.at)


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
