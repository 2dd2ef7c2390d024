"""What the chaos scenarios share: their scale (short or long), worker subprocesses whose
log is kept, the run ledger, and waiting on the database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from conveyor import Conveyor, JobState
from tests.store.helpers import raw_execute

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("CONVEYOR_CHAOS", "short") == "long"
"""``CONVEYOR_CHAOS=long`` (``make chaos``) runs every scenario with its long parameters."""


def scale(short: int, long: int) -> int:
    return long if LONG else short


def start_worker(
    url: str,
    log: Path,
    *args: str,
    lease_ttl: float = 2.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A real ``conveyor worker`` on the chaos app; its log goes to ``log``."""
    environment = {
        **os.environ,
        "CONVEYOR_DATABASE_URL": url,
        "CONVEYOR_LEASE_TTL_SECONDS": str(lease_ttl),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conveyor.cli",
                "--app",
                "tests.chaos.apps:app",
                "worker",
                "--no-scheduler",
                "--poll-interval",
                "0.2",
                *args,
            ],
            cwd=ROOT,
            env=environment,
            stdout=sink,
            stderr=sink,
        )


def runs_per_job(url: str) -> Counter[int]:
    """How many runs of each job reached the ledger."""
    return Counter(int(job_id) for (job_id,) in raw_execute(url, "SELECT job_id FROM chaos_runs"))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Re-check until ``check`` holds; ``timeout`` is only a hang guard."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"hang guard: {what} not reached within {timeout:g} s")
        await asyncio.sleep(0.05)


async def count_in(app: Conveyor, *states: JobState) -> int:
    return sum(c.count for c in await app.counts() if c.state in states)


async def held_by(app: Conveyor, pid: int) -> list[int]:
    """The jobs a worker process holds (by its pid, part of the worker id)."""
    held: list[int] = []
    page = await app.list_jobs(state="running", limit=1000)
    while True:
        held += [j.id for j in page.jobs if f":{pid}:" in (j.worker_id or "")]
        if page.next_after is None:
            return held
        page = await app.list_jobs(state="running", limit=1000, after=page.next_after)


async def all_final(app: Conveyor, ids: Sequence[int]) -> bool:
    for job_id in ids:
        if not (await app.get_job(job_id)).state.is_final:
            return False
    return True


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
