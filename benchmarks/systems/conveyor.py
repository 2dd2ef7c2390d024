"""Conveyor on PostgreSQL and on SQLite, driven through its public API and its CLI worker."""

from __future__ import annotations

import compileall
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import psycopg

import conveyor
from benchmarks.database import create_database, drop_database
from benchmarks.systems.base import JobKind, System, Workers, spawn
from benchmarks.systems.conveyor_app import build
from conveyor import Conveyor, JobState

TASKS = {"noop": "bench.noop", "sleep": "bench.sleep", "latency": "bench.latency"}
# Per process; the worker's executors scale up to it with the backlog. PgQueuer, the peer
# the targets name, starts every job it fetches at once and keeps fetching (no cap is its
# default, max_concurrent_tasks=None), so W3's 10 ms jobs are not capped there at all;
# 200 is a cap a user would set for such I/O-bound jobs (100 is measured too, in
# docs/benchmarks.md under "Targets").
CONCURRENCY = 200
CHUNK = 10_000


class ConveyorSystem(System):
    """Conveyor with ``conveyor worker`` processes; ``backend`` is ``postgres`` or ``sqlite``."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"conveyor-{backend}"
        self._db_name: str | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""
        self._app: Conveyor | None = None
        self._floor = 0
        self._pg: psycopg.AsyncConnection[tuple[int]] | None = None
        self._sqlite: sqlite3.Connection | None = None

    async def setup(self) -> None:
        # An installed Conveyor has its bytecode, as the peers' packages have theirs: pip
        # compiles a wheel's modules at install. This checkout may have none (an editable
        # install under PYTHONDONTWRITEBYTECODE=1), and then each worker process would
        # compile ~90 modules from source (~65 ms of CPU) before its first job (W8).
        compileall.compile_dir(Path(conveyor.__file__).parent, quiet=1)
        if self.backend == "postgres":
            self._db_name, self.url = create_database("bench_conveyor")
        else:
            self._folder = tempfile.TemporaryDirectory(prefix="bench-conveyor-")
            self.url = f"sqlite:///{Path(self._folder.name) / 'conveyor.db'}"
        self._app = build(self.url)
        await self._app.migrate()

    async def teardown(self) -> None:
        if self._app is not None:
            await self._app.close()
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()
        if self._db_name is not None:
            drop_database(self._db_name)
        if self._folder is not None:
            self._folder.cleanup()

    @property
    def app(self) -> Conveyor:
        assert self._app is not None, "setup() first"
        return self._app

    async def enqueue_bulk(self, kind: JobKind, count: int) -> None:
        for start in range(0, count, CHUNK):
            payloads = [{"i": i} for i in range(start, min(count, start + CHUNK))]
            await self.app.enqueue_many(TASKS[kind], payloads)

    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None:
        await self.app.enqueue(TASKS[kind], {"sent_at": sent_at})

    async def completed(self) -> int:
        return sum(c.count for c in await self.app.counts() if c.state is JobState.COMPLETED)

    async def mark(self) -> None:
        self._floor = int((await self._query(MAX_ID, {}))[0] or 0)

    async def completed_since_mark(self) -> int:
        # Completed jobs above the mark only (the state index's range): counting every
        # completed job on each poll would grow with the history and tax W6.
        return int((await self._query(COMPLETED_SINCE, {"floor": self._floor}))[0])

    async def _query(self, sql: str, params: dict[str, int]) -> tuple[int | None, ...]:
        if self.backend == "postgres":
            if self._pg is None:
                self._pg = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            cur = await self._pg.execute(sql.replace(":floor", "%(floor)s"), params)
            row = await cur.fetchone()
        else:
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            row = self._sqlite.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)

    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        args = ["-m", "conveyor.cli", "--app", "benchmarks.systems.conveyor_app:app", "worker"]
        args += ["--concurrency", str(CONCURRENCY)]
        # Both stores wake idle workers of other processes (NOTIFY on PostgreSQL, the wake-up
        # sockets on SQLite), so the default poll interval is the safety net only.
        env = {"CONVEYOR_DATABASE_URL": self.url, "BENCH_LATENCY_FILE": str(latency_file)}
        return spawn(args, env, processes)

    async def seed_finished(self, count: int) -> None:
        # History written with SQL, as years of use would leave it: completed no-op jobs.
        if self.backend == "postgres":
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(SEED_POSTGRES, {"count": count})
                conn.execute("VACUUM ANALYZE conveyor_jobs")
        else:
            path = self.url.removeprefix("sqlite:///")
            # A day old, as on PostgreSQL: within the default retention of 30 days. Older
            # history is deleted by the workers' maintenance loop, 1,000 rows at a time,
            # and W6 would time that deletion instead of drains over a history.
            day_ago = datetime.now(UTC) - timedelta(days=1)
            moment = day_ago.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            with sqlite3.connect(path) as conn:
                conn.execute(SEED_SQLITE, {"count": count, "moment": moment})
                conn.execute("ANALYZE")

    async def versions(self) -> dict[str, str]:
        return {"conveyor": version("conveyor")}


MAX_ID = "SELECT max(id) FROM conveyor_jobs"
COMPLETED_SINCE = "SELECT count(*) FROM conveyor_jobs WHERE state = 'completed' AND id > :floor"

SEED_POSTGRES = """
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, attempt,
                           run_at, created_at, started_at, finished_at)
SELECT 'bench.noop', 'default', 'completed', jsonb_build_object('i', g), 0, 3, 1,
       now() - interval '1 day', now() - interval '1 day', now() - interval '1 day',
       now() - interval '1 day'
FROM generate_series(1, %(count)s) AS g
"""

SEED_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count)
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, attempt,
                           run_at, created_at, started_at, finished_at)
SELECT 'bench.noop', 'default', 'completed', json_object('i', n), 0, 3, 1,
       :moment, :moment, :moment, :moment
FROM g
"""
