"""SIGKILL random worker processes during a drain: no job is lost, and only jobs the
victims held can run twice."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.chaos.apps import build
from tests.chaos.conftest import Report
from tests.chaos.drain import Drain, log_dir
from tests.chaos.support import LONG, eventually, held_by, scale, start_worker, stop

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900 if LONG else 240)]
# A lease of 5 s: with 2 s, three SQLite worker processes on a starved 2-core machine
# lose leases to late heartbeats and spend the run rescuing each other's jobs.
TTL = 5.0
OPTIONS = ("--concurrency", "10")


async def test_sigkilled_workers_lose_no_job_and_rerun_only_what_they_held(
    store_url: str, tmp_path: Path, chaos_report: Report
) -> None:
    drain = Drain(store_url, jobs=scale(1_500, 20_000))
    kills = scale(3, 10)
    await drain.enqueue(seconds=0.005)
    logs = log_dir(tmp_path)
    workers = [
        start_worker(store_url, logs / f"w{i}.log", *OPTIONS, lease_ttl=TTL) for i in range(3)
    ]
    rng = random.Random(21)
    app = build(store_url)
    try:
        for kill in range(1, kills + 1):
            target = kill * drain.jobs // (kills + 1)

            async def reached(target: int = target) -> bool:
                return await drain.completed() >= target

            await eventually(reached, timeout=120, what=f"{target} jobs completed")
            victim = rng.randrange(len(workers))
            workers[victim].kill()
            workers[victim].wait()
            pid = workers[victim].pid
            drain.fault(await held_by(app, pid), victim=f":{pid}:")
            workers[victim] = start_worker(
                store_url, logs / f"w{victim}-{kill}.log", *OPTIONS, lease_ttl=TTL
            )

        async def drained() -> bool:
            return await drain.completed() == drain.jobs

        await eventually(drained, timeout=scale(120, 600), what="every job completed")
    finally:
        codes = [stop(worker) for worker in workers]
        await app.close()
    figures = await drain.figures()
    chaos_report(kills=kills, **figures)
    assert codes == [0] * len(workers)
    assert figures["lost"] == 0
    assert figures["ran_twice"] <= drain.held_at_faults
