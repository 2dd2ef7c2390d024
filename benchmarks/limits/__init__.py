"""The raw claim-and-complete ceiling of this machine, with no Python in the loop.

Each store's own claim and fenced-completion statements run in batches of 100: pgbench
drives PostgreSQL (two clients, durable commits), the sqlite3 shell drives SQLite (one
writer, as the store has). ``make bench`` reports Conveyor's W1 drain as a fraction of it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.database import create_database, drop_database
from conveyor.store.factory import open_store

BATCH = 100
HERE = Path(__file__).resolve().parent
PG_SCRIPT = HERE / "pg_claim_ack.sql"
SQLITE_ROUND = HERE / "sqlite_claim_ack.sql"

_PG_FILL = """
INSERT INTO conveyor_jobs (task, queue, state, payload, max_attempts, run_at, created_at)
SELECT 'noop', 'default', 'available', '{}'::jsonb, 3, now(), now()
FROM generate_series(1, %(jobs)s)
"""
_SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO conveyor_jobs (task, queue, state, payload, max_attempts, run_at, created_at)
SELECT 'noop', 'default', 'available', '{}', 3,
       '2020-01-01 00:00:00.000000', '2020-01-01 00:00:00.000000'
FROM n
"""
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


@dataclass(frozen=True)
class Ceiling:
    """Jobs claimed and completed per second by one store's statements alone."""

    store: str
    jobs: int
    jobs_per_second: float


async def _migrate(url: str) -> None:
    store = await open_store(url, migrate=True)
    await store.close()


def _completed_pg(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM conveyor_jobs WHERE state = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0


def postgres_ceiling(jobs: int, clients: int = 2) -> Ceiling:
    """Drain ``jobs`` with ``clients`` pgbench clients; one more batch each waits as margin,
    so that no claim near the end comes back short."""
    if shutil.which("pgbench") is None:
        raise RuntimeError("pgbench is not installed (Debian: apt-get install postgresql-client)")
    per_client = max(1, jobs // (BATCH * clients))
    name, url = create_database("conveyor_limit")
    try:
        asyncio.run(_migrate(url))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_PG_FILL, {"jobs": (per_client + 1) * clients * BATCH})
            conn.execute("VACUUM ANALYZE conveyor_jobs")
        command = ["pgbench", "-n", "-M", "simple", "-c", str(clients), "-j", str(clients)]
        command += ["-t", str(per_client), "-f", str(PG_SCRIPT), url]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        done = _completed_pg(url)
    finally:
        drop_database(name)
    expected = per_client * clients * BATCH
    if done != expected:
        raise RuntimeError(f"pgbench completed {done} jobs, expected {expected}")
    match = _TPS.search(output)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench's output:\n{output}")
    return Ceiling("postgres", expected, float(match.group(1)) * BATCH)


def _sqlite_run(path: Path, rounds: int) -> float:
    script = "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
    script += SQLITE_ROUND.read_text() * rounds
    started = time.perf_counter()
    subprocess.run(
        ["sqlite3", "-bail", str(path)],
        input=script,
        check=True,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    return time.perf_counter() - started


def sqlite_ceiling(jobs: int) -> Ceiling:
    """Drain ``jobs`` through one sqlite3 shell. The shell's start-up (a few milliseconds)
    counts against the ceiling: taking off a separately timed start-up went negative on a
    loaded machine."""
    if shutil.which("sqlite3") is None:
        raise RuntimeError("the sqlite3 shell is not installed (Debian: apt-get install sqlite3)")
    rounds = max(1, jobs // BATCH)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "limit.db"
        asyncio.run(_migrate(f"sqlite:///{path}"))
        with sqlite3.connect(path) as conn:
            conn.execute(_SQLITE_FILL, (rounds * BATCH,))
        elapsed = _sqlite_run(path, rounds)
        with sqlite3.connect(path) as conn:
            done = conn.execute(
                "SELECT count(*) FROM conveyor_jobs WHERE state = 'completed'"
            ).fetchone()[0]
    if done != rounds * BATCH:
        raise RuntimeError(f"sqlite3 completed {done} jobs, expected {rounds * BATCH}")
    return Ceiling("sqlite", done, done / elapsed)


def ceilings(jobs: int, runs: int) -> dict[str, list[float]]:
    """Each store's ceiling in jobs per second, ``runs`` times, keyed as the bench's table
    names them."""
    measured: dict[str, list[float]] = {"limit-postgres": [], "limit-sqlite": []}
    for _ in range(runs):
        measured["limit-postgres"].append(postgres_ceiling(jobs).jobs_per_second)
        measured["limit-sqlite"].append(sqlite_ceiling(jobs).jobs_per_second)
    return measured
