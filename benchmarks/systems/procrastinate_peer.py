"""Procrastinate: its schema on a throwaway database; completed = jobs in ``succeeded``."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import procrastinate
import psycopg

from benchmarks.database import create_database, drop_database
from benchmarks.systems.base import JobKind, System, Workers, spawn
from benchmarks.systems.procrastinate_app import build

CHUNK = 10_000


class ProcrastinateSystem(System):
    name = "procrastinate"
    max_jobs = 1_000  # a few round trips per job: ~100-1,000 jobs/s on a shared 2-core box

    def __init__(self) -> None:
        self._db_name: str | None = None
        self.url = ""
        self._opened = False
        self._app: procrastinate.App

    async def setup(self) -> None:
        self._db_name, self.url = create_database("bench_procrastinate")
        self._app = build(self.url)
        await self._app.open_async()
        self._opened = True
        await self._app.schema_manager.apply_schema_async()

    async def teardown(self) -> None:
        if self._opened:
            await self._app.close_async()
        if self._db_name is not None:
            drop_database(self._db_name)

    async def enqueue_bulk(self, kind: JobKind, count: int) -> None:
        task = self._app.tasks[kind]
        for start in range(0, count, CHUNK):
            await task.batch_defer_async(
                *({"i": i} for i in range(start, min(count, start + CHUNK)))
            )

    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None:
        await self._app.tasks[kind].defer_async(sent_at=sent_at)

    async def completed(self) -> int:
        row = await self._app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'"
        )
        return int(row["n"])

    async def mark(self) -> None:
        row = await self._app.connector.execute_query_one_async(
            "SELECT coalesce(max(id), 0) AS n FROM procrastinate_jobs"
        )
        self._floor = int(row["n"])

    async def completed_since_mark(self) -> int:
        # Above the mark only, by primary key: the W6 history is not recounted each poll.
        row = await self._app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE id > %(floor)s"
            " AND status = 'succeeded'",
            floor=self._floor,
        )
        return int(row["n"])

    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        env = {"BENCH_DATABASE_URL": self.url, "BENCH_LATENCY_FILE": str(latency_file)}
        return spawn(["-m", "benchmarks.systems.procrastinate_app"], env, processes)

    async def seed_finished(self, count: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                """
                INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
                SELECT 'bench', 'noop', jsonb_build_object('i', g), 'succeeded', 1
                FROM generate_series(1, %(count)s) AS g
                """,
                {"count": count},
            )
            conn.execute("VACUUM ANALYZE procrastinate_jobs")

    async def versions(self) -> dict[str, str]:
        return {"procrastinate": version("procrastinate")}
