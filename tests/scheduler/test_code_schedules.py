"""Schedules declared in code: validation, sync into the store, cron and interval fires."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.errors import ConfigurationError, InvalidArgument, PayloadInvalid, ScheduleInvalid
from conveyor.schedule import FireOutcome
from tests.scheduler.conftest import START, Report, build_app, fire_times, fired_jobs, scheduler


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", "invalid cron expression '61 * * * *'"),
        ({"cron": "* * *"}, "cron", "expected 5 fields"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ],
)
def test_invalid_cron_or_zone_is_refused_at_definition(
    options: dict[str, str], field: str, words: str
) -> None:
    app = build_app("sqlite:///unused.db", FrozenClock(START))
    with pytest.raises(ConfigurationError, match=re.escape(words)) as raised:
        app.schedule("report", **options)
    assert isinstance(raised.value, ScheduleInvalid) and raised.value.field == field
    assert app.declared_schedules == {}


def test_periodic_goes_on_a_task_and_validates_its_payload() -> None:
    app = Conveyor("sqlite:///unused.db", clock=FrozenClock(START))

    @app.periodic(cron="@daily", payload=Report(kind="nightly"))
    @app.task(name="nightly_report")
    async def nightly(payload: Report) -> None: ...

    spec = app.declared_schedules["nightly_report"].spec
    assert (spec.task, spec.cron, spec.payload) == ("nightly_report", "@daily", {"kind": "nightly"})
    with pytest.raises(PayloadInvalid):
        app.schedule(nightly, name="bad", every=60, payload={"kind": 5})
    with pytest.raises(ConfigurationError, match="already declared"):
        app.schedule(nightly, every=60)


@pytest.mark.parametrize(
    "options",
    [
        {"cron": "0 2 * * *", "every": 60},
        {"cron": "0 2 * * *", "run_immediately": True},
        {"every": 60, "run_immediately": True, "initial_delay": 5},
        {"every": 0},
        {"every": 60, "catch_up": "sometimes"},
    ],
)
def test_contradictory_options_are_refused(options: dict[str, object]) -> None:
    app = build_app("sqlite:///unused.db", FrozenClock(START))
    with pytest.raises(InvalidArgument):
        app.schedule("report", **options)


async def test_code_schedules_are_synced_and_listed(app: Conveyor) -> None:
    app.schedule("report", cron="0 2 * * *", timezone="America/Chicago")
    await scheduler(app).start()

    [info] = await app.list_schedules()
    assert (info.name, info.spec.source, info.spec.timezone) == (
        "report",
        "code",
        "America/Chicago",
    )
    assert info.next_fire_at == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)  # 02:00 CST


async def test_cron_schedule_fires_at_its_time_once(app: Conveyor, clock: FrozenClock) -> None:
    clock.advance(timedelta(seconds=30))  # past the 12:00 fire
    app.schedule("report", cron="0 * * * *", payload={"kind": "hourly"})
    sched = scheduler(app)
    await sched.start()

    assert await sched.tick() == []
    clock.set(datetime(2026, 1, 1, 13, 0, 0, 500, tzinfo=UTC))
    [result] = await sched.tick()
    assert result.outcome is FireOutcome.ENQUEUED and result.job is not None
    assert result.job.payload == {"kind": "hourly"}
    assert await sched.tick() == [], "a decided fire is not decided again"
    clock.set(datetime(2026, 1, 1, 14, 0, 30, tzinfo=UTC))
    await sched.tick()

    assert await fire_times(app) == [
        datetime(2026, 1, 1, 13, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 14, 0, tzinfo=UTC),
    ]
    info = await app.get_schedule("report")
    assert info.last_fire_at == datetime(2026, 1, 1, 14, 0, tzinfo=UTC)


async def test_interval_with_run_immediately_fires_at_start(
    app: Conveyor, clock: FrozenClock
) -> None:
    app.schedule("report", every=timedelta(minutes=10), run_immediately=True)
    sched = scheduler(app)
    await sched.start()
    await sched.tick()
    clock.advance(timedelta(minutes=10))
    await sched.tick()
    assert await fire_times(app) == [START, START + timedelta(minutes=10)]


async def test_interval_with_initial_delay_waits_for_it(app: Conveyor, clock: FrozenClock) -> None:
    app.schedule("report", every=timedelta(minutes=10), initial_delay=timedelta(minutes=3))
    sched = scheduler(app)
    await sched.start()
    assert await sched.tick() == []
    clock.advance(timedelta(minutes=3))
    await sched.tick()
    clock.advance(timedelta(minutes=10))
    await sched.tick()
    first = START + timedelta(minutes=3)
    assert await fire_times(app) == [first, first + timedelta(minutes=10)]


async def test_interval_without_options_first_fires_one_interval_later(
    app: Conveyor, clock: FrozenClock
) -> None:
    app.schedule("report", every=timedelta(minutes=10))
    sched = scheduler(app)
    await sched.start()
    clock.advance(timedelta(minutes=9))
    assert await sched.tick() == []
    clock.advance(timedelta(minutes=1))
    await sched.tick()
    assert await fire_times(app) == [START + timedelta(minutes=10)]


async def test_run_on_startup_fires_once_per_cluster_start(
    app: Conveyor, store_url: str, clock: FrozenClock
) -> None:
    app.schedule("report", cron="0 2 * * *", run_on_startup=True)
    first = await scheduler(app).start()
    assert [r.outcome for r in first] == [FireOutcome.ENQUEUED]

    other = build_app(store_url, clock)  # a second process starting at the same time
    other.schedule("report", cron="0 2 * * *", run_on_startup=True)
    try:
        assert await scheduler(other).start() == []
        clock.advance(timedelta(hours=1))  # a later deploy
        assert len(await scheduler(other).start()) == 1
    finally:
        await other.close()
    jobs = await fired_jobs(app)
    assert [j.schedule.fire_at for j in jobs if j.schedule] == [
        START,
        START + timedelta(hours=1),
    ]


async def test_schedules_removed_from_code_are_removed_at_start(
    app: Conveyor, store_url: str, clock: FrozenClock
) -> None:
    app.schedule("report", cron="0 2 * * *")
    app.schedule("report", name="report-hourly", cron="0 * * * *")
    await scheduler(app).start()

    later = build_app(store_url, clock)
    later.schedule("report", cron="0 2 * * *")
    try:
        await scheduler(later).start()
        assert [s.name for s in await later.list_schedules()] == ["report"]
    finally:
        await later.close()
