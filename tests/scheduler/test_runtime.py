"""Schedules created at run time: create, update, pause/resume, trigger, delete, restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.errors import (
    ConfigurationError,
    InvalidArgument,
    PayloadInvalid,
    ScheduleDeclaredInCode,
    ScheduleExists,
    ScheduleInvalid,
    ScheduleNotFound,
    TaskNotFound,
)
from conveyor.job import JobState
from conveyor.testing import drain
from tests.scheduler.conftest import START, build_app, fire_times, fired_jobs, scheduler


async def test_create_lists_the_schedule_with_its_next_fire(app: Conveyor) -> None:
    info = await app.create_schedule(
        "morning", "report", cron="0 7 * * 1-5", timezone="Europe/Berlin", payload={"kind": "am"}
    )
    assert (info.spec.source, info.spec.payload) == ("runtime", {"kind": "am"})
    assert info.next_fire_at == datetime(2026, 1, 2, 6, 0, tzinfo=UTC)  # Friday 07:00 CET
    [listed] = await app.list_schedules()
    assert listed.name == "morning" and listed.next_fire_at == info.next_fire_at
    with pytest.raises(ScheduleExists):
        await app.create_schedule("morning", "report", cron="0 8 * * *")


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"cron": "0 25 * * *"}, ScheduleInvalid, "cron"),
        ({"cron": "0 2 * * *", "timezone": "Nowhere/Land"}, ScheduleInvalid, "timezone"),
        ({"cron": "0 2 * * *", "payload": {"kind": 3}}, PayloadInvalid, None),
        ({"every": -5}, InvalidArgument, "every"),
        ({"cron": "0 2 * * *", "colour": "red"}, InvalidArgument, "colour"),
    ],
)
async def test_invalid_runtime_schedule_is_refused_and_not_stored(
    app: Conveyor, options: dict[str, object], error: type[Exception], field: str | None
) -> None:
    with pytest.raises(error) as raised:
        await app.create_schedule("bad", "report", **options)
    if field is not None:
        assert getattr(raised.value, "field", None) == field
    if error is ScheduleInvalid:
        assert isinstance(raised.value, ConfigurationError)
    assert await app.list_schedules() == []


async def test_unknown_task_is_refused(app: Conveyor) -> None:
    with pytest.raises(TaskNotFound):
        await app.create_schedule("x", "nope", cron="0 2 * * *")


async def test_runtime_schedule_fires_and_survives_a_restart(
    app: Conveyor, store_url: str, clock: FrozenClock
) -> None:
    await app.create_schedule("pulse", "report", every=timedelta(minutes=5))
    sched = scheduler(app)
    await sched.start()
    clock.advance(timedelta(minutes=5))
    await sched.tick()
    await app.close()

    restarted = build_app(store_url, clock)  # a new process: nothing declared in code
    try:
        assert [s.name for s in await restarted.list_schedules()] == ["pulse"]
        again = scheduler(restarted)
        await again.start()
        clock.advance(timedelta(minutes=5))
        await again.tick()
        assert await fire_times(restarted) == [
            START + timedelta(minutes=5),
            START + timedelta(minutes=10),
        ]
    finally:
        await restarted.close()


async def test_pause_stops_fires_and_resume_owes_none_from_the_pause(
    app: Conveyor, clock: FrozenClock
) -> None:
    await app.create_schedule("pulse", "report", every=timedelta(minutes=5))
    sched = scheduler(app)
    paused = await app.pause_schedule("pulse")
    assert paused.paused and paused.next_fire_at is None
    clock.advance(timedelta(minutes=12))
    assert await sched.tick() == []
    resumed = await app.resume_schedule("pulse")
    assert not resumed.paused
    assert resumed.next_fire_at == START + timedelta(minutes=15)
    assert await sched.tick() == [], "fires of the pause are not caught up"
    clock.advance(timedelta(minutes=3))
    await sched.tick()
    assert await fire_times(app) == [START + timedelta(minutes=15)]


async def test_trigger_now_enqueues_at_once_and_keeps_the_rule(
    app: Conveyor, clock: FrozenClock
) -> None:
    await app.create_schedule("nightly", "report", cron="0 2 * * *", payload={"kind": "n"})
    [job] = await app.trigger_schedule("nightly")
    assert job.payload == {"kind": "n"} and job.schedule is not None
    assert job.schedule.fire_at == START
    info = await app.get_schedule("nightly")
    assert (info.last_job_id, info.last_job_state) == (job.id, JobState.AVAILABLE)
    await drain(app)
    assert (await app.get_schedule("nightly")).last_job_state is JobState.COMPLETED

    sched = scheduler(app)
    clock.set(datetime(2026, 1, 2, 2, 0, 1, tzinfo=UTC))
    await sched.tick()
    assert await fire_times(app) == [START, datetime(2026, 1, 2, 2, 0, tzinfo=UTC)]


async def test_update_changes_the_rule_from_now_on(app: Conveyor, clock: FrozenClock) -> None:
    await app.create_schedule("nightly", "report", cron="0 2 * * *")
    clock.advance(timedelta(hours=1))
    updated = await app.update_schedule("nightly", cron="0 15 * * *", payload={"kind": "pm"})
    assert (updated.spec.cron, updated.spec.payload) == ("0 15 * * *", {"kind": "pm"})
    assert updated.next_fire_at == datetime(2026, 1, 1, 15, 0, tzinfo=UTC)
    switched = await app.update_schedule("nightly", every=timedelta(hours=2))
    assert switched.spec.cron is None and switched.spec.every == timedelta(hours=2)
    with pytest.raises(ScheduleInvalid):
        await app.update_schedule("nightly", cron="bad")
    with pytest.raises(ScheduleNotFound):
        await app.update_schedule("missing", cron="0 1 * * *")


async def test_delete_removes_the_schedule(app: Conveyor) -> None:
    await app.create_schedule("nightly", "report", cron="0 2 * * *")
    await app.delete_schedule("nightly")
    assert await app.list_schedules() == []
    with pytest.raises(ScheduleNotFound):
        await app.delete_schedule("nightly")


async def test_code_schedules_are_changed_in_code_only(app: Conveyor) -> None:
    app.schedule("report", cron="0 2 * * *")
    await scheduler(app).start()
    with pytest.raises(ScheduleDeclaredInCode):
        await app.update_schedule("report", cron="0 3 * * *")
    with pytest.raises(ScheduleDeclaredInCode):
        await app.delete_schedule("report")
    assert (await app.pause_schedule("report")).paused


async def test_fired_job_json_names_its_schedule(app: Conveyor) -> None:
    await app.create_schedule("nightly", "report", cron="0 2 * * *")
    await app.trigger_schedule("nightly")
    [job] = await fired_jobs(app)
    assert job.to_json()["schedule"] == {
        "name": "nightly",
        "fire_at": START.isoformat(),
        "tenant": None,
    }
