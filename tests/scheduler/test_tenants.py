"""Per-tenant schedules: one fire per tenant at its own local time, tenants coming and going."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.errors import ConfigurationError
from tests.scheduler.conftest import fired_jobs, scheduler

TENANTS = {1: "America/Chicago", 2: "Europe/Berlin", 3: "Asia/Tokyo"}


async def run_day(app: Conveyor, clock: FrozenClock, hours: int = 24) -> None:
    sched = scheduler(app)
    await sched.start()
    await sched.tick()
    for _ in range(hours * 6):
        clock.advance(timedelta(minutes=10))
        await sched.tick()


async def test_each_tenant_fires_at_two_local(app: Conveyor, clock: FrozenClock) -> None:
    async def tenants() -> list[tuple[int, str]]:
        return list(TENANTS.items())

    app.schedule("tenant_sync", name="nightly-sync", cron="0 2 * * *", per_tenant=tenants)
    await run_day(app, clock)

    jobs = await fired_jobs(app)
    assert {j.payload["tenant_id"]: j.schedule.fire_at for j in jobs if j.schedule} == {
        1: datetime(2026, 1, 2, 8, 0, tzinfo=UTC),  # 02:00 CST
        2: datetime(2026, 1, 2, 1, 0, tzinfo=UTC),  # 02:00 CET
        3: datetime(2026, 1, 1, 17, 0, tzinfo=UTC),  # 02:00 JST
    }
    assert all(
        j.schedule is not None and j.schedule.tenant == str(j.payload["tenant_id"]) for j in jobs
    )
    assert len(jobs) == 3


async def test_tenants_are_reread_each_cycle(app: Conveyor, clock: FrozenClock) -> None:
    current = {1: "UTC"}
    app.schedule("tenant_sync", cron="0 * * * *", per_tenant=lambda: list(current.items()))
    sched = scheduler(app)
    await sched.start()
    clock.advance(timedelta(minutes=30))
    await sched.tick()  # 12:30: nothing due
    current[2] = "UTC"  # a tenant signs up
    clock.advance(timedelta(minutes=31))
    await sched.tick()  # 13:01: tenant 2 is first seen now, so 13:00 is not owed to it
    del current[1]  # a tenant leaves
    clock.advance(timedelta(hours=1))
    await sched.tick()  # 14:01
    fired = sorted(
        (j.schedule.fire_at.hour, j.payload["tenant_id"])
        for j in await fired_jobs(app)
        if j.schedule
    )
    assert fired == [(13, 1), (14, 2)]


async def test_trigger_now_fires_each_tenant_or_one(app: Conveyor, clock: FrozenClock) -> None:
    app.schedule("tenant_sync", cron="0 2 * * *", per_tenant=lambda: list(TENANTS.items()))
    await scheduler(app).start()
    assert len(await app.trigger_schedule("tenant_sync")) == 3
    clock.advance(timedelta(seconds=1))  # a trigger is one fire per (tenant, moment)
    [one] = await app.trigger_schedule("tenant_sync", tenant="2")
    assert one.payload == {"tenant_id": 2, "full": False}


def test_per_tenant_task_needs_the_tenant_field(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="no field 'tenant'"):
        app.schedule("tenant_sync", cron="0 2 * * *", per_tenant=list, tenant_field="tenant")


async def test_the_tenant_source_is_read_once_per_refresh_window(
    app: Conveyor, clock: FrozenClock
) -> None:
    calls: list[int] = []

    def tenants() -> list[tuple[int, str]]:
        calls.append(1)
        return [(1, "UTC")]

    app.schedule("tenant_sync", cron="* * * * *", per_tenant=tenants)
    sched = scheduler(app)  # tenant_refresh: 30 s
    await sched.start()
    for _ in range(4):
        clock.advance(timedelta(seconds=10))
        await sched.tick()
    assert len(calls) == 2  # at 10 s, then at 40 s
    assert len(await fired_jobs(app)) == 0  # the first fire is at 12:01
