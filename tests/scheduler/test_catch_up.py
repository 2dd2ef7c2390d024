"""Catch-up after downtime, DST days, and overlap prevention, on a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.schedule import FireOutcome
from conveyor.testing import drain
from tests.scheduler.conftest import START, fire_times, scheduler

CHICAGO = ZoneInfo("America/Chicago")


async def down_for_five_hours(app: Conveyor, clock: FrozenClock, catch_up: str) -> None:
    """An hourly schedule fires at 13:00, then every scheduler is down until 18:30."""
    app.schedule("report", cron="0 * * * *", catch_up=catch_up)
    clock.advance(timedelta(minutes=30))
    sched = scheduler(app)
    await sched.start()
    clock.set(datetime(2026, 1, 1, 13, 0, 5, tzinfo=UTC))
    await sched.tick()
    clock.set(datetime(2026, 1, 1, 18, 30, tzinfo=UTC))
    await sched.tick()
    await sched.tick()  # a second cycle owes nothing more


async def test_catch_up_latest_runs_one_fire_for_the_downtime(
    app: Conveyor, clock: FrozenClock
) -> None:
    await down_for_five_hours(app, clock, "latest")
    assert await fire_times(app) == [
        datetime(2026, 1, 1, 13, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 18, 0, tzinfo=UTC),
    ]


async def test_catch_up_all_runs_every_missed_fire(app: Conveyor, clock: FrozenClock) -> None:
    await down_for_five_hours(app, clock, "all")
    assert await fire_times(app) == [
        datetime(2026, 1, 1, hour, 0, tzinfo=UTC) for hour in range(13, 19)
    ]


async def test_catch_up_all_is_bounded_to_the_newest(app: Conveyor, clock: FrozenClock) -> None:
    app.schedule("report", every=timedelta(minutes=1), catch_up="all")
    sched = scheduler(app)
    await sched.start()
    clock.advance(timedelta(days=2))  # 2,880 missed fires; the bound is 100
    await sched.tick()
    times = await fire_times(app)
    assert len(times) == 100
    assert times[-1] == clock.now()


async def test_catch_up_skip_runs_nothing_missed_and_resumes_on_time(
    app: Conveyor, clock: FrozenClock
) -> None:
    await down_for_five_hours(app, clock, "skip")
    assert await fire_times(app) == [datetime(2026, 1, 1, 13, 0, tzinfo=UTC)]
    sched = scheduler(app)
    clock.set(datetime(2026, 1, 1, 19, 0, 2, tzinfo=UTC))
    await sched.tick()
    assert (await fire_times(app))[-1] == datetime(2026, 1, 1, 19, 0, tzinfo=UTC)


async def test_a_restart_after_downtime_still_owes_the_missed_fire(
    app: Conveyor, store_url: str, clock: FrozenClock
) -> None:
    from tests.scheduler.conftest import build_app

    app.schedule("report", cron="0 2 * * *")
    await scheduler(app).start()
    clock.set(datetime(2026, 1, 3, 9, 0, tzinfo=UTC))  # down over two nights
    restarted = build_app(store_url, clock)
    restarted.schedule("report", cron="0 2 * * *")
    try:
        sched = scheduler(restarted)
        await sched.start()
        await sched.tick()
    finally:
        await restarted.close()
    assert await fire_times(app) == [datetime(2026, 1, 3, 2, 0, tzinfo=UTC)]


async def daily_0230_over(app: Conveyor, clock: FrozenClock, first: datetime, days: int) -> None:
    """A daily 02:30 Chicago schedule, its scheduler cycling every 10 minutes."""
    clock.set(first)
    app.schedule("report", cron="30 2 * * *", timezone="America/Chicago")
    sched = scheduler(app)
    await sched.start()
    while clock.now() < first + timedelta(days=days):
        clock.advance(timedelta(minutes=10))
        await sched.tick()


async def test_spring_forward_runs_the_skipped_time_at_the_first_valid_moment(
    app: Conveyor, clock: FrozenClock
) -> None:
    # 2026-03-08: clocks jump from 02:00 to 03:00 in Chicago; 02:30 does not exist.
    await daily_0230_over(app, clock, datetime(2026, 3, 7, 12, 0, tzinfo=UTC), 3)
    local = [t.astimezone(CHICAGO).replace(tzinfo=None) for t in await fire_times(app)]
    assert local == [
        datetime(2026, 3, 8, 3, 0),
        datetime(2026, 3, 9, 2, 30),
        datetime(2026, 3, 10, 2, 30),
    ]


async def test_fall_back_runs_the_repeated_time_once(app: Conveyor, clock: FrozenClock) -> None:
    # 2026-11-01: clocks fall back from 02:00 to 01:00; use 01:30, which happens twice.
    clock.set(datetime(2026, 10, 31, 12, 0, tzinfo=UTC))
    app.schedule("report", cron="30 1 * * *", timezone="America/Chicago")
    sched = scheduler(app)
    await sched.start()
    while clock.now() < datetime(2026, 11, 3, 12, 0, tzinfo=UTC):
        clock.advance(timedelta(minutes=10))
        await sched.tick()
    times = await fire_times(app)
    assert times == [
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 CDT, the first occurrence
        datetime(2026, 11, 2, 7, 30, tzinfo=UTC),  # 01:30 CST
        datetime(2026, 11, 3, 7, 30, tzinfo=UTC),
    ]


async def test_overlap_is_prevented_until_the_previous_run_finishes(
    app: Conveyor, clock: FrozenClock
) -> None:
    app.schedule("report", every=timedelta(minutes=1), allow_overlap=False)
    sched = scheduler(app)
    await sched.start()
    clock.advance(timedelta(minutes=1))
    [first] = await sched.tick()
    assert first.outcome is FireOutcome.ENQUEUED
    clock.advance(timedelta(minutes=1))
    [second] = await sched.tick()
    assert second.outcome is FireOutcome.SKIPPED, "the first run has not finished"
    assert await drain(app) == 1
    clock.advance(timedelta(minutes=1))
    [third] = await sched.tick()
    assert third.outcome is FireOutcome.ENQUEUED
    assert await fire_times(app) == [START + timedelta(minutes=m) for m in (1, 3)]


async def test_overlap_allowed_fires_while_the_previous_run_waits(
    app: Conveyor, clock: FrozenClock
) -> None:
    app.schedule("report", every=timedelta(minutes=1))
    sched = scheduler(app)
    await sched.start()
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await sched.tick()
    assert len(await fire_times(app)) == 3
