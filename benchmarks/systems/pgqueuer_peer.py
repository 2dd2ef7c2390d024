"""PgQueuer: jobs in its own schema on a throwaway database; completed = rows gone from
the queue table (PgQueuer deletes a job and logs it in one statement when it succeeds)."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import asyncpg
from pgqueuer import AsyncpgDriver, Queries

from benchmarks.database import create_database, drop_database
from benchmarks.systems.base import JobKind, System, Workers, spawn

CHUNK = 10_000


class PgQueuerSystem(System):
    name = "pgqueuer"

    def __init__(self) -> None:
        self._db_name: str | None = None
        self.url = ""
        self._conn: asyncpg.Connection | None = None
        self._queries: Queries | None = None
        self._enqueued = 0

    async def setup(self) -> None:
        self._db_name, self.url = create_database("bench_pgqueuer")
        self._conn = await asyncpg.connect(self.url)
        self._queries = Queries(AsyncpgDriver(self._conn))
        await self._queries.install()

    async def teardown(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        if self._db_name is not None:
            drop_database(self._db_name)

    @property
    def queries(self) -> Queries:
        assert self._queries is not None, "setup() first"
        return self._queries

    async def enqueue_bulk(self, kind: JobKind, count: int) -> None:
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            payloads: list[bytes | None] = [
                json.dumps({"i": i}).encode() for i in range(start, start + size)
            ]
            await self.queries.enqueue([kind] * size, payloads, [0] * size)
        self._enqueued += count

    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None:
        await self.queries.enqueue(kind, json.dumps({"sent_at": sent_at}).encode())
        self._enqueued += 1

    async def completed(self) -> int:
        assert self._conn is not None
        remaining = await self._conn.fetchval("SELECT count(*) FROM pgqueuer")
        return self._enqueued - int(remaining)

    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        env = {"BENCH_DATABASE_URL": self.url, "BENCH_LATENCY_FILE": str(latency_file)}
        return spawn(["-m", "benchmarks.systems.pgqueuer_worker"], env, processes)

    async def seed_finished(self, count: int) -> None:
        # PgQueuer's history of finished jobs is its log table.
        assert self._conn is not None
        await self._conn.execute(
            """
            INSERT INTO pgqueuer_log (job_id, status, priority, entrypoint, created)
            SELECT g, 'successful', 0, 'noop', now() - interval '1 day'
            FROM generate_series(1, $1::int) AS g
            """,
            count,
        )
        await self._conn.execute("VACUUM ANALYZE pgqueuer_log")

    async def versions(self) -> dict[str, str]:
        return {"pgqueuer": version("pgqueuer"), "asyncpg": version("asyncpg")}
