"""The benchmark's clock stops when the jobs of the run are done, not the store's total."""

from __future__ import annotations

from pathlib import Path

from benchmarks.systems.base import JobKind, System, Workers
from benchmarks.workloads import wait_completed


class HistoryStore(System):
    """A store that already holds many completed jobs (earlier runs, W6's history) and
    completes one more job of this run on every poll."""

    name = "history"

    def __init__(self) -> None:
        self.polls = 0

    async def completed(self) -> int:
        return 1_000_000 + self.polls

    async def completed_since_mark(self) -> int:
        self.polls += 1
        return self.polls

    async def setup(self) -> None: ...
    async def teardown(self) -> None: ...
    async def enqueue_bulk(self, kind: JobKind, count: int) -> None: ...
    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None: ...

    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        return Workers()


async def test_a_run_waits_for_its_own_jobs_whatever_the_store_held_before() -> None:
    store = HistoryStore()

    await wait_completed(store, 3, Workers(), timeout=10)

    assert store.polls == 3
