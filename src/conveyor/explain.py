"""Why is this job not running? ``explain`` reads the job, its limits and the worker
registry and names the reason, and where it can be known, until when.

Reasons (``Explanation.reason``), checked in this order for a waiting job:

==================== =================================================================
``scheduled``        ``run_at`` is in the future (``until`` = run_at)
``backing_off``      failed attempt N, waiting for its retry (``until`` = run_at)
``paused``           its queue is paused (``details.queue``): no worker claims from it
``no_worker``        no live worker serves the job's queue
``concurrency``      its concurrency key is at its limit; ``details.blocked_by`` lists
                     the running jobs holding it
``rate_limit``       its rate-limit bucket has no whole token (``until`` = next token)
``ready``            due and admissible: waiting for a free worker slot
==================== =================================================================

and for a job that is not waiting: ``running`` (on a live worker), ``stale_lease`` (held
by a worker that stopped heart-beating: the rescuer returns it once the lease expires,
``until``), or ``finished``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conveyor.job import Job, JobState
from conveyor.stats import WorkerInfo
from conveyor.store.base import Store


@dataclass(frozen=True, slots=True)
class Explanation:
    """What holds a job back: a machine-readable ``reason``, a sentence for people, and
    the moment it should change (``until``) where that is known."""

    job_id: int
    state: JobState
    reason: str
    message: str
    until: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state.value,
            "reason": self.reason,
            "message": self.message,
            "until": None if self.until is None else self.until.isoformat(),
            "details": self.details,
        }


async def explain(store: Store, job: Job, *, now: datetime, lease_ttl: timedelta) -> Explanation:
    """Explain ``job`` as of ``now``; a worker counts as live while its last heartbeat is
    younger than two lease periods (when other workers would mark it dead)."""
    if job.state.is_final:
        return _say(job, "finished", f"finished: {job.state.value}")
    workers = await store.list_workers(limit=1000)
    live = [w for w in workers if _is_live(w, now, lease_ttl)]
    if job.state is JobState.RUNNING:
        return _running(job, workers, live, now)
    if job.run_at > now:
        if job.errors:
            last = job.errors[-1]
            return _say(
                job,
                "backing_off",
                f"backing off after attempt {job.attempt} failed ({last.type}: "
                f"{last.message}); retries at {job.run_at.isoformat()}",
                until=job.run_at,
                attempt=job.attempt,
            )
        return _say(job, "scheduled", f"scheduled for {job.run_at.isoformat()}", until=job.run_at)
    if any(q.name == job.queue and q.paused for q in await store.list_queues(now=now)):
        return _say(
            job,
            "paused",
            f"queue {job.queue!r} is paused: no worker claims its jobs until it is resumed",
            queue=job.queue,
        )
    if not any(w.queues is None or job.queue in w.queues for w in live):
        return _say(job, "no_worker", f"no live worker serves queue {job.queue!r}")
    if job.concurrency_key is not None and job.concurrency_limit is not None:
        holders = await store.running_with_key(key=job.concurrency_key)
        if len(holders) >= job.concurrency_limit:
            return _say(
                job,
                "concurrency",
                f"blocked by concurrency key {job.concurrency_key!r} (limit "
                f"{job.concurrency_limit}): held by running job(s) " + ", ".join(map(str, holders)),
                key=job.concurrency_key,
                limit=job.concurrency_limit,
                blocked_by=holders,
            )
    if job.rate_key is not None:
        waiting = await _rate_wait(store, job.rate_key, now)
        if waiting is not None:
            return _say(
                job,
                "rate_limit",
                f"waiting for a rate-limit token of {job.rate_key!r}; the next one comes "
                f"at {waiting.isoformat()}",
                until=waiting,
                key=job.rate_key,
            )
    return _say(job, "ready", "due and admissible: waiting for a free worker slot")


def _running(
    job: Job, workers: list[WorkerInfo], live: list[WorkerInfo], now: datetime
) -> Explanation:
    holder = next((w for w in workers if w.id == job.worker_id), None)
    expired = job.lease_expires_at is not None and job.lease_expires_at < now
    if expired or (holder is not None and holder not in live):
        seen = "never" if holder is None else holder.last_heartbeat_at.isoformat()
        return _say(
            job,
            "stale_lease",
            f"lease held by worker {job.worker_id} which stopped heart-beating (last seen "
            f"{seen}); the rescuer returns the job to the queue once the lease expires",
            until=job.lease_expires_at,
            worker_id=job.worker_id,
        )
    return _say(job, "running", f"running on worker {job.worker_id}", worker_id=job.worker_id)


async def _rate_wait(store: Store, key: str, now: datetime) -> datetime | None:
    """When the bucket of ``key`` has its next whole token, or ``None`` if it has one now."""
    bucket = await store.rate_bucket(key=key)
    if bucket is None:
        return None  # never used yet: full
    tokens = bucket.tokens_at(now)
    if tokens >= 1:
        return None
    return now + timedelta(seconds=(1 - tokens) / bucket.rate_per_second)


def _is_live(worker: WorkerInfo, now: datetime, lease_ttl: timedelta) -> bool:
    return worker.state in {"running", "stopping"} and (
        now - worker.last_heartbeat_at < 2 * lease_ttl
    )


def _say(
    job: Job, reason: str, message: str, *, until: datetime | None = None, **details: Any
) -> Explanation:
    return Explanation(job.id, job.state, reason, message, until, details)
