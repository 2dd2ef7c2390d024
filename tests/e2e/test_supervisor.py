"""The supervisor: crashed worker processes are restarted, old ones recycled."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from conveyor import JobState
from tests.e2e.apps import Noop, Sleep, build
from tests.e2e.processes import count, eventually, start_worker, stop

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


async def test_workers_are_recycled_after_max_jobs_per_child(store_url: str) -> None:
    app = build(store_url)
    try:
        await app.enqueue_many("e2e.noop", [Noop(n=i) for i in range(300)])
        supervisor = start_worker(store_url, "--max-jobs-per-child", "50", "--concurrency", "10")
        try:

            async def all_done() -> bool:
                return await count(app, JobState.COMPLETED) == 300

            await eventually(all_done, timeout=90)
        finally:
            stop(supervisor)
        assert supervisor.returncode == 0
        workers = await app.workers()
        assert len(workers) >= 3  # 300 jobs at most ~50 (+ one batch) per process
        assert {w.state for w in workers} == {"stopped"}
    finally:
        await app.close()


async def test_a_killed_worker_process_is_restarted(store_url: str) -> None:
    app = build(store_url)
    try:
        supervisor = start_worker(store_url, "--processes", "2", lease_ttl=1.0)
        try:

            async def two_children() -> bool:
                return len(children_of(supervisor.pid)) == 2

            await eventually(two_children)
            victim = children_of(supervisor.pid)[0]
            os.kill(victim, signal.SIGKILL)

            async def replaced() -> bool:
                kids = children_of(supervisor.pid)
                return len(kids) == 2 and victim not in kids

            await eventually(replaced)
            job = await app.enqueue("e2e.sleep", Sleep(seconds=0))

            async def served() -> bool:
                return (await app.get_job(job.id)).state is JobState.COMPLETED

            await eventually(served)
        finally:
            stop(supervisor)
    finally:
        await app.close()


async def test_workers_past_max_memory_are_recycled_without_losing_jobs(store_url: str) -> None:
    app = build(store_url)
    try:
        # Every Python process is past 1 MB: each child drains and is replaced in turn.
        await app.enqueue_many("e2e.sleep", [Sleep(seconds=0.05) for _ in range(40)])
        supervisor = start_worker(store_url, "--max-memory-per-child", "1", "--concurrency", "5")
        try:

            async def all_done() -> bool:
                return await count(app, JobState.COMPLETED) == 40

            await eventually(all_done, timeout=90)

            async def recycled() -> bool:
                return len(await app.workers()) >= 2

            await eventually(recycled, timeout=30)
        finally:
            stop(supervisor)
        jobs = (await app.list_jobs(limit=100)).jobs
        assert all(j.attempt == 1 for j in jobs)  # each drained, none rescued or repeated
    finally:
        await app.close()
