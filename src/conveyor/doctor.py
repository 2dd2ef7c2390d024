"""The checks behind ``conveyor doctor``: is this deployment able to run jobs?

They only read (and send one NOTIFY): they never migrate, rescue or change a job. The
store is opened here directly, not through the app, so that a schema that is behind is
reported rather than migrated or refused.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conveyor.app import Conveyor
from conveyor.errors import ConveyorError
from conveyor.job import JobState
from conveyor.store.base import JobFilter, Store
from conveyor.store.factory import sqlite_path, store_for_url

CONNECT_TIMEOUT = 5.0
MAX_SKEW = timedelta(seconds=2)
NOTIFY_TIMEOUT = 5.0
DOCTOR_CHANNEL_QUEUE = "conveyor-doctor"
WAITING_STATES = ("available", "retrying")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Limits:
    max_skew: timedelta = MAX_SKEW
    min_free_mb: int = 100


async def diagnose(app: Conveyor, limits: Limits | None = None) -> list[Check]:
    """Every check that applies to ``app``'s database, in order; stops after the
    database check when the database cannot be reached."""
    limits = limits or Limits()
    url = app.settings.resolved_database_url
    store = store_for_url(url)
    checks: list[Check] = []
    try:
        await asyncio.wait_for(store.open(), CONNECT_TIMEOUT)
    except (ConveyorError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            return [Check("database", False, f"{store.url}: no answer in {CONNECT_TIMEOUT:g} s")]
        return [Check("database", False, str(exc))]
    try:
        checks.append(Check("database", True, f"reachable at {store.url}"))
        for run in (_schema, _skew, _notify, _disk):
            check = await _guarded(run, app, store, limits)
            if check is not None:
                checks.append(check)
        if checks[1].ok:  # the jobs and workers tables are as this Conveyor expects
            for run in (_workers, _leases):
                check = await _guarded(run, app, store, limits)
                if check is not None:
                    checks.append(check)
    finally:
        await store.close()
    return checks


Probe = Callable[[Conveyor, Store, Limits], Awaitable[Check | None]]


async def _guarded(run: Probe, app: Conveyor, store: Store, limits: Limits) -> Check | None:
    try:
        return await run(app, store, limits)
    except ConveyorError as exc:
        return Check(run.__name__.strip("_"), False, str(exc))


async def _schema(app: Conveyor, store: Store, limits: Limits) -> Check:
    version, expected = await store.schema_version(), store.expected_version
    if version == expected:
        return Check("schema", True, f"at version {version}")
    hint = "run `conveyor migrate`" if version < expected else "this Conveyor is older"
    return Check("schema", False, f"at version {version}, expected {expected}: {hint}")


async def _skew(app: Conveyor, store: Store, limits: Limits) -> Check | None:
    if store.dialect != "postgresql":
        return None  # SQLite runs on this host, by this host's clock
    async with store.transaction() as tx:
        [row] = await tx.execute("SELECT now() AS now")
    database: datetime = row["now"]
    skew = app.clock.now() - database.astimezone(UTC)
    seconds = abs(skew.total_seconds())
    detail = f"this host is {skew.total_seconds():+.3f} s from the database"
    return Check("clock skew", seconds <= limits.max_skew.total_seconds(), detail)


async def _notify(app: Conveyor, store: Store, limits: Limits) -> Check | None:
    if not store.capabilities.listen_notify:
        return None
    heard = asyncio.Event()

    def on_notify(queue: str) -> None:
        if queue == DOCTOR_CHANNEL_QUEUE:
            heard.set()

    listener = await store.listen(on_notify=on_notify)
    try:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await store.notify_queues(queues=[DOCTOR_CHANNEL_QUEUE])
        try:
            await asyncio.wait_for(heard.wait(), NOTIFY_TIMEOUT)
        except TimeoutError:
            return Check("notify", False, f"no NOTIFY came back within {NOTIFY_TIMEOUT:g} s")
        return Check("notify", True, f"round trip in {(loop.time() - sent) * 1000:.0f} ms")
    finally:
        await listener.close()


async def _workers(app: Conveyor, store: Store, limits: Limits) -> Check:
    now = app.clock.now()
    fresh = now - timedelta(seconds=3 * app.settings.lease_ttl_seconds)
    live = [
        w
        for w in await store.list_workers(limit=10_000)
        if w.state in ("running", "stopping") and w.last_heartbeat_at >= fresh
    ]
    waiting = sorted(
        {
            d.queue
            for d in await store.queue_depths(now=now)
            if d.state in WAITING_STATES or d.oldest_due is not None
        }
    )
    orphaned = [q for q in waiting if not any(w.queues is None or q in w.queues for w in live)]
    if orphaned:
        return Check("workers", False, f"waiting jobs and no live worker: {', '.join(orphaned)}")
    served = f"{len(waiting)} queue(s) with waiting jobs" if waiting else "no waiting jobs"
    return Check("workers", True, f"{len(live)} live worker(s); {served}")


async def _leases(app: Conveyor, store: Store, limits: Limits) -> Check:
    """Running jobs whose lease ran out a whole lease period ago: no worker is rescuing
    (every worker looks for them at least twice per lease)."""
    before = app.clock.now() - timedelta(seconds=app.settings.lease_ttl_seconds)
    expired: list[int] = []
    after: int | None = None
    while True:
        page = await store.list_jobs(
            filter=JobFilter(states=[JobState.RUNNING]), after=after, limit=500
        )
        expired += [
            j.id
            for j in page.jobs
            if j.lease_expires_at is not None and j.lease_expires_at < before
        ]
        if page.next_after is None:
            break
        after = page.next_after
    if expired:
        shown = ", ".join(str(i) for i in sorted(expired)[:10])
        return Check("leases", False, f"{len(expired)} running job(s) with expired leases: {shown}")
    return Check("leases", True, "no expired leases")


async def _disk(app: Conveyor, store: Store, limits: Limits) -> Check | None:
    if store.dialect != "sqlite":
        return None
    path = Path(sqlite_path(app.settings.resolved_database_url)).resolve()
    free_mb = shutil.disk_usage(path.parent).free // (1024 * 1024)
    detail = f"{path}: {free_mb} MB free"
    return Check("disk", free_mb >= limits.min_free_mb, detail)
