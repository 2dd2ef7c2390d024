"""A drain under fire: N counted jobs, worker processes, and the figures a scenario reports
(jobs lost, jobs run twice, leases held when the fault hit, recovery time)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from conveyor import JobState
from tests.chaos.apps import LEDGER_TABLE, Work, build
from tests.chaos.support import count_in, runs_per_job
from tests.store.helpers import raw_execute


@dataclass
class Drain:
    url: str
    jobs: int
    ids: list[int] = field(default_factory=list)
    held_at_faults: int = 0
    recoveries: list[asyncio.Task[float]] = field(default_factory=list)

    async def enqueue(self, seconds: float) -> None:
        raw_execute(self.url, LEDGER_TABLE)
        app = build(self.url)
        try:
            jobs = await app.enqueue_many(
                "chaos.counted", [Work(n=i, seconds=seconds) for i in range(self.jobs)]
            )
        finally:
            await app.close()
        self.ids = [job.id for job in jobs]

    async def completed(self) -> int:
        """One plain query on a connection of its own (read-only on SQLite's WAL): the
        polling must not compete with the workers for the store's writer."""
        sql = "SELECT count(*) FROM conveyor_jobs WHERE state = 'completed'"
        rows = await asyncio.to_thread(raw_execute, self.url, sql)
        return int(rows[0][0])

    def fault(self, held: list[int], victim: str) -> None:
        """A fault hit while ``held`` jobs were leased to ``victim`` (a worker-id part):
        time until every one of them left it."""
        self.held_at_faults += len(held)
        self.recoveries.append(asyncio.create_task(_recovered(self.url, held, victim)))

    async def figures(self) -> dict[str, object]:
        runs = runs_per_job(self.url)
        app = build(self.url)
        try:
            done = await count_in(app, JobState.COMPLETED)
        finally:
            await app.close()
        recovery = [await task for task in self.recoveries]
        return {
            "jobs": self.jobs,
            "completed": done,
            "lost": sum(1 for i in self.ids if runs[i] == 0) + (self.jobs - done),
            "ran_twice": sum(1 for i in self.ids if runs[i] > 1),
            "extra_runs": sum(max(0, runs[i] - 1) for i in self.ids),
            "held_at_faults": self.held_at_faults,
            "recovery_s_max": round(max(recovery, default=0.0), 2),
        }


async def _recovered(url: str, held: list[int], victim: str) -> float:
    """Seconds until no job in ``held`` is leased to ``victim`` any more: rescued (back in
    the queue, or running elsewhere) or final. Waiting in the backlog afterwards is not
    part of the recovery."""
    started = time.monotonic()
    app = build(url)
    try:
        while True:
            jobs = [await app.get_job(job_id) for job_id in held]
            if not any(j.state is JobState.RUNNING and victim in (j.worker_id or "") for j in jobs):
                return time.monotonic() - started
            await asyncio.sleep(0.1)
    finally:
        await app.close()


def log_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return logs
