"""How long one flow claim takes over a two-tenant fairness backlog, on both stores.

A backlog of 5,000 jobs of tenant "big" and 20 of tenant "small" (``fairness_key`` per
tenant) is claimed 10 at a time; each claim is timed alone (its jobs are then completed,
untimed). A second scenario adds what the car-wash mail chunks carry: a concurrency key
per tenant (limit 4) and a rate key per tenant (1,000/s, so it never runs dry here). Usage:

    .venv/bin/python -m benchmarks.flow_claim [--backlog 5000] [--claims 200] [--limit 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.database import create_database, drop_database
from conveyor.store.base import Completion, NewJob, Store
from conveyor.store.factory import open_store

TTL = timedelta(seconds=60)


def backlog(size: int, scenario: str) -> list[NewJob]:
    now = datetime.now(UTC)

    def job(tenant: str, i: int) -> NewJob:
        keys: dict[str, Any] = {"fairness_key": tenant}
        if scenario == "limits":
            keys |= {"concurrency_key": tenant, "concurrency_limit": 4}
            keys |= {"rate_key": tenant, "rate_per_second": 1000.0, "rate_burst": 1000.0}
        return NewJob(task="send", queue="email", payload={"i": i}, run_at=now, **keys)

    return [job("big", i) for i in range(size)] + [job("small", i) for i in range(20)]


async def measure(
    store: Store, *, size: int, claims: int, limit: int, scenario: str
) -> list[float]:
    jobs = backlog(size, scenario)
    for start in range(0, len(jobs), 5_000):
        await store.insert_jobs(jobs=jobs[start : start + 5_000], now=datetime.now(UTC))
    timings: list[float] = []
    for _ in range(claims):
        started = time.perf_counter()
        claimed = await store.claim_jobs(
            queues=["email"], limit=limit, lease_ttl=TTL, worker_id="bench", now=datetime.now(UTC)
        )
        timings.append(time.perf_counter() - started)
        acks = [Completion(j.id, j.lease_token or "", None) for j in claimed]
        await store.ack_jobs(acks=acks, now=datetime.now(UTC))
    return timings


def report(label: str, timings: list[float], limit: int) -> None:
    ms = sorted(t * 1000 for t in timings)
    median = statistics.median(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"{label:<28} median {median:7.2f} ms  p95 {p95:7.2f} ms  "
        f"-> {limit / (median / 1000):8.0f} jobs/s claimed"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=5_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()

    async def timed(url: str, scenario: str) -> list[float]:
        store = await open_store(url, migrate=True)
        try:
            return await measure(
                store, size=args.backlog, claims=args.claims, limit=args.limit, scenario=scenario
            )
        finally:
            await store.close()

    for scenario in ("fairness", "limits"):
        name, url = create_database("conveyor_flow_bench")
        try:
            report(f"postgres {scenario}", await timed(url, scenario), args.limit)
        finally:
            drop_database(name)
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            report(f"sqlite {scenario}", await timed(sqlite_url, scenario), args.limit)


if __name__ == "__main__":
    asyncio.run(main())
