"""Exactly once for database effects: a handler's writes and its completion commit together,
even when its worker process is SIGKILLed before or after that commit."""

from __future__ import annotations

import signal
import sqlite3

import psycopg
import pytest

from conveyor import JobState
from conveyor.store.factory import sqlite_path
from tests.e2e.apps import Effect, build
from tests.e2e.processes import eventually, opened, start_worker, stop

pytestmark = pytest.mark.slow


def create_effects_table(url: str) -> None:
    ddl = "CREATE TABLE e2e_effects (job_id bigint NOT NULL, attempt integer NOT NULL)"
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute(ddl)
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ddl)


def effects(url: str, job_id: int) -> list[int]:
    """The attempts that left a row for ``job_id``."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            rows = conn.execute(
                "SELECT attempt FROM e2e_effects WHERE job_id = ?", (job_id,)
            ).fetchall()
    else:
        with psycopg.connect(url) as pg:
            rows = pg.execute(
                "SELECT attempt FROM e2e_effects WHERE job_id = %s", (job_id,)
            ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("kill_point", ["inside_transaction", "after_commit"])
async def test_a_kill_never_duplicates_or_loses_the_effect(store_url: str, kill_point: str) -> None:
    async with opened(build(store_url)) as app:
        create_effects_table(store_url)
        inside = kill_point == "inside_transaction"
        payload = Effect(sleep_inside=3.0 if inside else 0.0, sleep_after=0.0 if inside else 3.0)
        job = await app.enqueue("e2e.effect", payload)
        doomed = start_worker(store_url, lease_ttl=1.0)
        try:
            if inside:

                async def running() -> bool:
                    return (await app.get_job(job.id)).state is JobState.RUNNING

                await eventually(running)
            else:

                async def committed() -> bool:
                    return (await app.get_job(job.id)).state is JobState.COMPLETED

                await eventually(committed)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
        finally:
            stop(doomed)

        if inside:
            assert effects(store_url, job.id) == []  # the kill rolled the write back
            survivor = start_worker(store_url, lease_ttl=1.0)
            try:

                async def completed() -> bool:
                    return (await app.get_job(job.id)).state is JobState.COMPLETED

                await eventually(completed, timeout=40)
            finally:
                stop(survivor)

        done = await app.get_job(job.id)
        assert done.state is JobState.COMPLETED
        assert effects(store_url, job.id) == [done.attempt]  # exactly one effect
        assert done.result == {"attempt": done.attempt}
