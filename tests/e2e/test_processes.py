"""Real worker processes: a supervisor over two children, and SIGKILL in the middle of a job."""

from __future__ import annotations

import signal

import pytest

from conveyor import JobState
from conveyor.store.base import Completion
from tests.e2e.apps import Noop, Sleep, build
from tests.e2e.processes import count, eventually, start_worker, stop

pytestmark = pytest.mark.slow


async def test_two_worker_processes_complete_5000_jobs_exactly_once(store_url: str) -> None:
    app = build(store_url)
    try:
        await app.enqueue_many("e2e.noop", [Noop(n=i) for i in range(5000)])
        supervisor = start_worker(store_url, "--processes", "2", "--concurrency", "50")
        try:

            async def all_done() -> bool:
                return await count(app, JobState.COMPLETED) == 5000

            await eventually(all_done, timeout=120)
        finally:
            stop(supervisor)
        assert supervisor.returncode == 0
        seen: list[int] = []
        page = await app.list_jobs(limit=1000)
        while True:
            assert all(j.attempt == 1 and j.state is JobState.COMPLETED for j in page.jobs)
            seen += [j.result for j in page.jobs]
            if page.next_after is None:
                break
            page = await app.list_jobs(limit=1000, after=page.next_after)
        assert sorted(seen) == list(range(5000))  # every payload ran, none twice
        workers = {j.worker_id for j in (await app.list_jobs(limit=1000)).jobs}
        assert len(workers) >= 1
    finally:
        await app.close()


async def test_sigkilled_worker_job_is_rescued_by_another_and_late_ack_is_rejected(
    store_url: str,
) -> None:
    app = build(store_url)
    try:
        job = await app.enqueue("e2e.sleep", Sleep(seconds=1.5))
        first = start_worker(store_url, lease_ttl=1.0)
        try:

            async def running() -> bool:
                return (await app.get_job(job.id)).state is JobState.RUNNING

            await eventually(running)
            claimed = await app.get_job(job.id)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)

        second = start_worker(store_url, lease_ttl=1.0)
        try:

            async def completed() -> bool:
                return (await app.get_job(job.id)).state is JobState.COMPLETED

            await eventually(completed, timeout=30)
        finally:
            stop(second)

        done = await app.get_job(job.id)
        assert done.attempt == 2
        assert [e.type for e in done.errors] == ["LeaseExpired"]
        assert done.worker_id != claimed.worker_id
        # The killed worker's ack arrives late with its old token: it changes nothing.
        store = await app.store()
        outcome = await store.ack_jobs(
            acks=[Completion(job.id, claimed.lease_token or "", "stale")], now=app.clock.now()
        )
        assert [lost.job_id for lost in outcome.lost] == [job.id]
        assert (await app.get_job(job.id)).result == "slept"
    finally:
        await app.close()


async def test_sigterm_hands_a_running_job_back_immediately(store_url: str) -> None:
    app = build(store_url)
    try:
        job = await app.enqueue("e2e.sleep", Sleep(seconds=60))
        worker = start_worker(store_url, "--drain-timeout", "0.2")
        try:

            async def running() -> bool:
                return (await app.get_job(job.id)).state is JobState.RUNNING

            await eventually(running)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        finally:
            stop(worker)
        released = await app.get_job(job.id)
        assert released.state is JobState.AVAILABLE  # back now, not after the lease expires
        assert released.attempt == 0 and released.lease_token is None
    finally:
        await app.close()
