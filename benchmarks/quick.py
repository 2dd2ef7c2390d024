"""A quick store-level benchmark: bulk enqueue, then claim + batched ack of no-op jobs.

Measures the store's hot path on both backends (no worker process yet); the side-by-side
comparison with PgQueuer and Procrastinate is a separate benchmark. Usage:

    .venv/bin/python benchmarks/quick.py [--jobs 20000] [--batch 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from conveyor.store.base import Completion, NewJob
from conveyor.store.factory import open_store

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def one_run(url: str, jobs: int, batch: int) -> tuple[float, float]:
    store = await open_store(url, migrate=True)
    try:
        now = datetime.now(UTC)
        new = [
            NewJob(task="noop", queue="default", payload={"i": i}, run_at=now) for i in range(jobs)
        ]
        started = time.perf_counter()
        for start in range(0, jobs, 10_000):
            await store.insert_jobs(jobs=new[start : start + 10_000], now=now)
        insert_rate = jobs / (time.perf_counter() - started)

        started = time.perf_counter()
        done = 0
        while done < jobs:
            claimed = await store.claim_jobs(
                queues=["default"],
                limit=batch,
                lease_ttl=timedelta(seconds=30),
                worker_id="bench",
                now=datetime.now(UTC),
            )
            if not claimed:
                break
            acks = [Completion(j.id, j.lease_token or "", None) for j in claimed]
            await store.ack_jobs(acks=acks, now=datetime.now(UTC))
            done += len(claimed)
        drain_rate = done / (time.perf_counter() - started)
        return insert_rate, drain_rate
    finally:
        await store.close()


def fresh_postgres() -> tuple[str, str]:
    name = f"conveyor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgres": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            results["sqlite"].append(await one_run(url, args.jobs, args.batch))
        name, url = fresh_postgres()
        try:
            results["postgres"].append(await one_run(url, args.jobs, args.batch))
        finally:
            drop_postgres(name)
    print(
        f"{args.jobs} no-op jobs, claim/ack batch {args.batch}, {args.runs} runs (median, min-max)"
    )
    for backend, runs in results.items():
        inserts = [r[0] for r in runs]
        drains = [r[1] for r in runs]
        print(
            f"{backend:9} insert {statistics.median(inserts):>9,.0f} jobs/s "
            f"({min(inserts):,.0f}-{max(inserts):,.0f})   "
            f"claim+ack {statistics.median(drains):>8,.0f} jobs/s "
            f"({min(drains):,.0f}-{max(drains):,.0f})"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
