"""Worker subprocesses for the end-to-end tests: start one on an app, stop it, and wait on
the store until a condition holds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from conveyor import Conveyor, JobState

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    url: str, *args: str, app: str = "tests.e2e.apps:app", lease_ttl: float | None = 30.0
) -> subprocess.Popen[bytes]:
    """``conveyor --app APP worker ARGS`` on ``url``; ``lease_ttl`` None keeps the default."""
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    if lease_ttl is not None:
        env["CONVEYOR_LEASE_TTL_SECONDS"] = str(lease_ttl)
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "--app", app, "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def opened(app: Conveyor) -> AsyncIterator[Conveyor]:
    """``app`` with its store open and migrated (so a test can add its tables), closed on
    exit."""
    try:
        await app.store()
        yield app
    finally:
        await app.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Re-check the store until ``check`` holds; the only waiting these tests do."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def count(app: Conveyor, state: JobState) -> int:
    return sum(c.count for c in await app.counts() if c.state is state)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
