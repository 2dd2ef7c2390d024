"""Three scheduler processes on one PostgreSQL: every fire of a fast schedule is enqueued
exactly once, by whichever process gets there first (no leader)."""

from __future__ import annotations

import itertools
import subprocess

import psycopg
import pytest

from tests.e2e.processes import eventually, start_worker, stop
from tests.e2e.sched_app import EVERY, build

pytestmark = pytest.mark.slow
FIRES = 24


def start_scheduler(url: str) -> subprocess.Popen[bytes]:
    return start_worker(url, app="tests.e2e.sched_app:app", lease_ttl=None)


def fired(url: str) -> list[tuple[object, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT schedule_fire_at, count(*) FROM conveyor_jobs"
            " WHERE schedule_name = 'e2e.tick' GROUP BY 1 ORDER BY 1"
        ).fetchall()


async def test_three_schedulers_enqueue_every_fire_exactly_once(pg_url: str) -> None:
    app = build(pg_url)
    await app.store()  # migrated before the processes race to it
    processes = [start_scheduler(pg_url) for _ in range(3)]
    try:

        async def enough() -> bool:
            return len(fired(pg_url)) >= FIRES

        await eventually(enough, timeout=45)
    finally:
        for process in processes:
            stop(process)
        await app.close()
    assert [p.returncode for p in processes] == [0, 0, 0]

    rows = fired(pg_url)
    assert len(rows) >= FIRES
    assert all(count == 1 for _, count in rows), f"a fire enqueued twice: {rows}"
    times = [moment for moment, _ in rows]
    gaps = {later - earlier for earlier, later in itertools.pairwise(times)}
    assert gaps == {EVERY}, "every fire time between the first and the last is there"
    with psycopg.connect(pg_url) as conn:
        decided = conn.execute(
            "SELECT count(*) FROM conveyor_schedule_fires WHERE outcome = 'enqueued'"
        ).fetchone()
    assert decided is not None and decided[0] == len(rows)
