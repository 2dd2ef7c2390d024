"""Fixtures for scheduler tests: an app with tasks on each backend, on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.job import Job
from conveyor.scheduler.scheduler import Scheduler, SchedulerOptions

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Report(BaseModel):
    kind: str = "daily"


class TenantSync(BaseModel):
    tenant_id: int
    full: bool = False


async def report(payload: Report) -> str:
    return payload.kind


async def tenant_sync(payload: TenantSync) -> int:
    return payload.tenant_id


def build_app(url: str, clock: FrozenClock) -> Conveyor:
    """An app with the tasks the scheduler tests schedule (no schedules declared)."""
    app = Conveyor(url, clock=clock)
    app.task(name="report")(report)
    app.task(name="tenant_sync")(tenant_sync)
    return app


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(store_url: str, clock: FrozenClock) -> AsyncIterator[Conveyor]:
    conveyor = build_app(store_url, clock)
    yield conveyor
    await conveyor.close()


def scheduler(app: Conveyor) -> Scheduler:
    """A scheduler whose cycles the test drives (``start``/``tick``), maintenance off."""
    return Scheduler(app, SchedulerOptions(grace=timedelta(seconds=60)))


async def fired_jobs(app: Conveyor) -> list[Job]:
    """Every job a schedule enqueued, oldest fire first."""
    page = await app.list_jobs(limit=1000)
    jobs = [j for j in page.jobs if j.schedule is not None]
    return sorted(jobs, key=lambda j: (j.schedule.fire_at, j.id) if j.schedule else (START, 0))


async def fire_times(app: Conveyor) -> list[datetime]:
    return [j.schedule.fire_at for j in await fired_jobs(app) if j.schedule is not None]
