"""A drain under fire: N counted jobs, worker processes, and the figures a scenario reports
(jobs lost, jobs run twice, leases held when the fault hit, recovery time)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from conveyor import JobState
from tests.chaos.apps import LEDGER_TABLE, Work, build
from tests.chaos.support import all_final, count_in, runs_per_job
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
        app = build(self.url)
        try:
            return await count_in(app, JobState.COMPLETED)
        finally:
            await app.close()

    def fault(self, held: list[int]) -> None:
        """A fault hit while ``held`` jobs were leased to its victim: time their rescue."""
        self.held_at_faults += len(held)
        self.recoveries.append(asyncio.create_task(_recovered(self.url, held)))

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


async def _recovered(url: str, held: list[int]) -> float:
    """Seconds until every job in ``held`` is final again."""
    started = time.monotonic()
    app = build(url)
    try:
        while not await all_final(app, held):
            await asyncio.sleep(0.1)
    finally:
        await app.close()
    return time.monotonic() - started


def log_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return logs
