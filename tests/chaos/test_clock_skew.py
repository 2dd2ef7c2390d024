"""A worker whose clock runs 25 s ahead must not rescue another worker's live job: lease
arithmetic uses the database's clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conveyor import JobState
from tests.chaos.apps import Gate, build
from tests.chaos.conftest import Report
from tests.chaos.drain import log_dir
from tests.chaos.support import eventually, start_worker, stop

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
]
SKEW_SECONDS = 25.0
TTL = 4.0


async def test_a_worker_with_a_fast_clock_leaves_live_leases_alone(
    store_url: str, tmp_path: Path, chaos_report: Report
) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    logs = log_dir(tmp_path)
    app = build(store_url)
    honest = start_worker(store_url, logs / "honest.log", "--concurrency", "1", lease_ttl=TTL)
    skewed = None
    try:
        job = await app.enqueue("chaos.gated", Gate(directory=str(gates)))

        async def running() -> bool:
            return (await app.get_job(job.id)).state is JobState.RUNNING

        await eventually(running, timeout=30, what="the job running on the honest worker")
        skewed = start_worker(
            store_url,
            logs / "skewed.log",
            lease_ttl=TTL,
            env={"CHAOS_CLOCK_SKEW_SECONDS": str(SKEW_SECONDS)},
        )

        async def skewed_worker_up() -> bool:
            return any(w.pid == skewed.pid for w in await app.workers())

        await eventually(skewed_worker_up, timeout=30, what="the skewed worker registered")
        # Nothing to count here: the rule is that something does *not* happen, so the
        # skewed worker gets three of its rescue passes (every TTL / 2) to do it.
        await asyncio.sleep(3 * TTL / 2)
        during = await app.get_job(job.id)
        (gates / "attempt-1").touch()
        (gates / "attempt-2").touch()

        async def completed() -> bool:
            return (await app.get_job(job.id)).state is JobState.COMPLETED

        await eventually(completed, timeout=30, what="the job completed")
        done = await app.get_job(job.id)
    finally:
        codes = [stop(honest), *([stop(skewed)] if skewed else [])]
        await app.close()
    chaos_report(
        skew_s=SKEW_SECONDS,
        lease_ttl_s=TTL,
        ran_twice=int(done.attempt > 1),
        rescued_live_job=int(during.attempt > 1),
    )
    assert during.attempt == 1 and during.state is JobState.RUNNING
    assert done.attempt == 1 and done.result == {"attempt": 1, "pid": honest.pid}
    assert codes == [0, 0]
