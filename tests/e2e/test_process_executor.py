"""executor="process": CPU-bound handlers run in a child process that a cancel really stops."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest

from conveyor import Conveyor, JobState
from conveyor.worker.worker import Worker, WorkerOptions
from tests.e2e import apps
from tests.e2e.apps import Crunch
from tests.e2e.processes import eventually

pytestmark = pytest.mark.slow

FAST = WorkerOptions(
    poll_interval=timedelta(milliseconds=50),
    heartbeat_interval=timedelta(milliseconds=100),
    rescue_interval=timedelta(seconds=1),
)


def process_app(url: str) -> Conveyor:
    app = apps.build(url)
    app.task(name="e2e.crunch", executor="process", timeout=30)(apps.crunch)
    app.task(name="e2e.fail_in_child", executor="process", max_attempts=1)(apps.fail_in_child)
    return app


async def test_a_process_task_runs_in_another_process_and_returns_its_result(
    store_url: str,
) -> None:
    app = process_app(store_url)
    worker = Worker(app, FAST)
    running = asyncio.create_task(worker.run())
    try:
        job = await app.enqueue("e2e.crunch", Crunch(n=1000))
        failing = await app.enqueue("e2e.fail_in_child", Crunch(n=7))
        await asyncio.wait_for(worker.wait_acked(2), timeout=30)
        done = await app.get_job(job.id)
        assert done.state is JobState.COMPLETED
        assert done.result["sum"] == sum(i * i for i in range(1000))
        assert done.result["pid"] != os.getpid()
        failed = await app.get_job(failing.id)
        assert failed.state is JobState.FAILED
        assert (failed.errors[0].type, failed.errors[0].message) == ("ValueError", "bad input 7")
        assert "fail_in_child" in failed.errors[0].traceback
    finally:
        worker.stop()
        await running
        await app.close()


async def test_cancelling_a_running_process_job_terminates_its_child(store_url: str) -> None:
    app = process_app(store_url)
    worker = Worker(app, FAST)
    running = asyncio.create_task(worker.run())
    try:
        job = await app.enqueue("e2e.crunch", Crunch(n=1, spin_forever=True))

        async def started() -> bool:
            return (
                await app.get_job(job.id)
            ).state is JobState.RUNNING and worker.running_count == 1

        await eventually(started, timeout=20)
        await app.cancel(job.id)

        async def stopped() -> bool:
            return worker.running_count == 0

        await eventually(stopped, timeout=10)  # the spinning child was terminated
        assert (await app.get_job(job.id)).state is JobState.CANCELLED
    finally:
        worker.stop()
        await running
        await app.close()
