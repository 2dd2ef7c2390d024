"""A script that enqueues and ends without closing the app exits, on every store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conveyor import Conveyor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SCRIPT = """
import asyncio, sys
from pydantic import BaseModel
from conveyor import Conveyor

app = Conveyor(sys.argv[1])

class Item(BaseModel):
    n: int

@app.task(name="exit.noop")
async def noop(payload: Item) -> None: ...

async def main() -> None:
    # Concurrent enqueues grow the connection pool in the background; the app is not closed.
    await asyncio.gather(*(noop.enqueue(Item(n=i)) for i in range(5)))

asyncio.run(main())
"""
RUNS = 16  # the hang this guards against came about once in twenty to thirty runs


async def test_a_script_that_never_closes_the_app_exits(store_url: str, tmp_path: Path) -> None:
    async with Conveyor(store_url) as app:
        await app.store()  # migrated before the scripts start
    script = tmp_path / "enqueue_and_exit.py"
    script.write_text(SCRIPT)
    for run in range(RUNS):
        try:
            done = subprocess.run(
                [sys.executable, str(script), store_url], capture_output=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {run + 1} of {RUNS} hung at exit")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    async with Conveyor(store_url) as app:
        page = await app.list_jobs(task="exit.noop", limit=500)
    assert len(page.jobs) == 5 * RUNS
