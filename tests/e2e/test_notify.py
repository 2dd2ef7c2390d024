"""Cross-process wake-up: a job enqueued elsewhere starts long before the next poll."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conveyor import JobState
from conveyor.store.factory import store_for_url
from conveyor.worker.worker import Worker, WorkerOptions
from tests.e2e.apps import Noop, build


async def test_notify_wakes_an_idle_worker_without_waiting_for_the_poll(store_url: str) -> None:
    if not store_for_url(store_url).capabilities.listen_notify:
        pytest.skip("this store has no cross-process notifications (polling covers it)")
    worker_app, producer = build(store_url), build(store_url)  # two apps: no in-process wake
    worker = Worker(worker_app, WorkerOptions(poll_interval=timedelta(seconds=5)))
    running = asyncio.create_task(worker.run())
    try:
        await worker_app.store()
        await asyncio.sleep(0.3)  # let the worker's first, empty claim pass and go idle
        started = asyncio.get_running_loop().time()
        job = await producer.enqueue("e2e.noop", Noop(n=1))
        await asyncio.wait_for(worker.wait_acked(1), timeout=4)
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed < 1.0, f"took {elapsed:.3f} s: the worker waited for its poll"
        assert (await producer.get_job(job.id)).state is JobState.COMPLETED
    finally:
        worker.stop()
        await running
        await worker_app.close()
        await producer.close()
