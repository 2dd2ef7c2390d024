"""Builders and shortcuts shared by the store conformance tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString, cast
from urllib.parse import urlsplit

import psycopg

from conveyor.job import Job, JobError, JobState
from conveyor.store.base import Completion, Failure, JobFilter, NewJob, Store
from conveyor.store.factory import sqlite_path

NOW = datetime(2026, 1, 1, tzinfo=UTC)
"""The frozen "now" of every test; later moments are ``NOW + timedelta(...)``."""
TTL = timedelta(seconds=30)
WORKER = "worker-1"


def new_job(**overrides: Any) -> NewJob:
    """A due ``NewJob`` on queue ``default`` with sensible defaults, overridable per field."""
    fields: dict[str, Any] = {
        "task": "send_email",
        "queue": "default",
        "payload": {"to": "a@example.com"},
        "run_at": NOW,
    }
    fields.update(overrides)
    return NewJob(**fields)


async def insert(store: Store, *jobs: NewJob, now: datetime = NOW) -> list[Job]:
    """Insert ``jobs`` (one default job when none is given) and return the stored rows."""
    inserted = await store.insert_jobs(jobs=list(jobs) or [new_job()], now=now)
    return [i.job for i in inserted]


async def insert_many(
    store: Store, count: int, *, now: datetime = NOW, **overrides: Any
) -> list[Job]:
    return await insert(store, *(new_job(**overrides) for _ in range(count)), now=now)


async def claim(
    store: Store,
    *,
    limit: int = 100,
    queues: Sequence[str] | None = None,
    now: datetime = NOW,
    ttl: timedelta = TTL,
    worker_id: str = WORKER,
) -> list[Job]:
    return await store.claim_jobs(
        queues=queues, limit=limit, lease_ttl=ttl, worker_id=worker_id, now=now
    )


async def insert_and_claim(
    store: Store, *jobs: NewJob, now: datetime = NOW, ttl: timedelta = TTL
) -> list[Job]:
    """Insert ``jobs`` (default: one) and claim exactly them; returns the running jobs."""
    inserted = await insert(store, *jobs, now=now)
    claimed = await claim(store, limit=len(inserted), now=now, ttl=ttl)
    assert sorted(j.id for j in claimed) == sorted(j.id for j in inserted)
    return claimed


def error(
    attempt: int, message: str = "boom", *, at: datetime = NOW, started_at: datetime = NOW
) -> JobError:
    """A failed attempt's error; ``started_at`` is when that attempt was claimed (the store
    stamps it from the job row, and these tests claim at ``NOW`` unless they say)."""
    return JobError(
        attempt=attempt,
        type="ValueError",
        message=message,
        traceback="tb",
        at=at,
        started_at=started_at,
    )


def complete(job: Job, result: Any = None) -> Completion:
    assert job.lease_token is not None
    return Completion(job_id=job.id, token=job.lease_token, result=result)


def fail(job: Job, *, retry_at: datetime | None = None, message: str = "boom") -> Failure:
    assert job.lease_token is not None
    return Failure(
        job_id=job.id, token=job.lease_token, error=error(job.attempt, message), retry_at=retry_at
    )


def is_sqlite_url(url: str) -> bool:
    """Which kind of raw connection a URL needs. Only for creating databases and ad-hoc
    SQL in tests: the behaviour under test never branches on it."""
    return urlsplit(url).scheme == "sqlite"


def raw_execute(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one ad-hoc statement on the database ``url`` names and return its rows."""
    if is_sqlite_url(url):
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            return list(conn.execute(sql, params or {}).fetchall())
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(cast(LiteralString, sql), params or {})
        return list(cur.fetchall()) if cur.description else []


async def counts(store: Store) -> dict[tuple[str, str], int]:
    """``count_jobs`` as ``{(queue, state): count}``, independent of row order."""
    return {(c.queue, c.state.value): c.count for c in await store.count_jobs()}


async def make_states(store: Store) -> dict[JobState, Job]:
    """One job in every state, each with its own task name (its state's name)."""
    running, completed, failed, retrying, cancelled = await insert_and_claim(
        store,
        *(
            new_job(task=name)
            for name in ("running", "completed", "failed", "retrying", "cancelled")
        ),
    )
    await store.ack_jobs(
        acks=[
            complete(completed, "ok"),
            fail(failed),
            fail(retrying, retry_at=NOW + timedelta(hours=1)),
        ],
        now=NOW,
    )
    await store.cancel_jobs(ids=[cancelled.id], now=NOW)
    available, scheduled = await insert(
        store,
        new_job(task="available"),
        new_job(task="scheduled", run_at=NOW + timedelta(hours=1)),
    )
    jobs = {
        JobState.RUNNING: running,
        JobState.COMPLETED: completed,
        JobState.FAILED: failed,
        JobState.RETRYING: retrying,
        JobState.CANCELLED: cancelled,
        JobState.AVAILABLE: available,
        JobState.SCHEDULED: scheduled,
    }
    for state, job in jobs.items():
        assert (await store.get_job(job_id=job.id)).state is state
    return jobs


async def list_all(store: Store, filter: JobFilter | None = None, *, limit: int = 100) -> list[Job]:
    """Every job matching ``filter``, newest first, following the keyset cursor."""
    jobs: list[Job] = []
    after: int | None = None
    while True:
        page = await store.list_jobs(filter=filter or JobFilter(), after=after, limit=limit)
        jobs.extend(page.jobs)
        if page.next_after is None:
            return jobs
        after = page.next_after
