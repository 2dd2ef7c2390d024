"""Built-in maintenance: retention of finished jobs and fires, dead-worker cleanup."""

from __future__ import annotations

from datetime import timedelta

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.maintenance.maintenance import Maintenance, MaintenanceOptions
from conveyor.testing import drain
from tests.scheduler.conftest import START, build_app


async def finished_jobs(app: Conveyor, count: int) -> None:
    await app.enqueue_many("report", [{}] * count)
    await drain(app)


async def test_finished_jobs_older_than_the_retention_are_pruned_in_batches(
    app: Conveyor, clock: FrozenClock
) -> None:
    await finished_jobs(app, 5)
    clock.advance(timedelta(days=2))
    await app.enqueue("report", {}, delay=3600)  # waiting: never pruned
    await finished_jobs(app, 1)  # finished now: kept
    options = MaintenanceOptions(job_retention=timedelta(days=1), batch_size=2)

    report = await Maintenance(app, options).run()

    assert report.jobs_pruned == 5
    assert len((await app.list_jobs()).jobs) == 2


async def test_retention_comes_from_the_setting_and_zero_keeps_forever(
    store_url: str, clock: FrozenClock
) -> None:
    # 0 keeps the first three; 30 days then prunes them and the next three
    for days, expected in ((0, 0), (30, 6)):
        app = build_app(store_url, clock)
        app.settings.job_retention_days = days
        try:
            await finished_jobs(app, 3)
            clock.advance(timedelta(days=400))
            report = await Maintenance(app).run()
            assert report.jobs_pruned == expected
        finally:
            await app.close()


async def test_maintenance_runs_at_most_once_per_interval(
    app: Conveyor, clock: FrozenClock
) -> None:
    maintenance = Maintenance(app, MaintenanceOptions(interval=timedelta(minutes=1)))
    assert await maintenance.run_if_due() is not None
    assert await maintenance.run_if_due() is None
    clock.advance(timedelta(minutes=1))
    assert await maintenance.run_if_due() is not None


async def test_silent_workers_are_marked_dead_and_later_forgotten(
    app: Conveyor, clock: FrozenClock
) -> None:
    store = await app.store()
    await store.register_worker(
        worker_id="w1", host="h", pid=1, queues=None, concurrency=1, now=START
    )
    clock.advance(timedelta(minutes=5))
    report = await Maintenance(app).run()
    assert report.workers_marked_dead == ["w1"]
    clock.advance(timedelta(days=2))
    assert (await Maintenance(app).run()).workers_pruned == 1
    assert await app.workers() == []
