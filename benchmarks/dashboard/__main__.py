"""``python -m benchmarks.dashboard``: each dashboard page's server time, p50/p95, on each
store holding a million finished jobs.

Each store gets a fresh database (a throwaway PostgreSQL database on the server at
``CONVEYOR_TEST_DATABASE_URL``, a fresh SQLite file), seeded by ``benchmarks.dashboard.seed``.
Pages are requested in-process through the ASGI app (no sockets, no browser): the time is
the server's, from the request entering the app to the last byte of the body. Each page is
requested ``--runs`` times after two warm-up requests. ``--write`` rewrites the table in
``docs/benchmarks.md`` from the run and keeps the figures in
``benchmarks/results/dashboard.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.dashboard.seed import bench_app, seed_history, seed_live
from benchmarks.database import create_database, drop_database
from conveyor import Conveyor
from conveyor.api import create_api

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "dashboard.json"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- dashboard:table:start -->", "<!-- dashboard:table:end -->"
TARGET_P95_MS = 150.0
LOADS: dict[str, float] = {}


async def page_paths(app: Conveyor) -> list[str]:
    """Every page, with ids of a batch and of a failed job that exist."""
    failed = await app.list_jobs(state="failed", limit=1)
    batch = (await app.list_batches(limit=1)).batches[0]
    return [
        "/",
        "/partials/overview",
        "/queues",
        "/schedules",
        "/workers",
        "/batches",
        f"/batches/{batch.id}",
        "/jobs",
        "/jobs?state=failed",
        "/jobs?state=completed&task=bench.sync",
        f"/jobs/{failed.jobs[0].id}",
    ]


async def time_pages(app: Conveyor, runs: int) -> dict[str, dict[str, float]]:
    api = create_api(app)
    transport = httpx.ASGITransport(app=api)
    timings: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for path in await page_paths(app):
            samples: list[float] = []
            status = 0
            for run in range(runs + 2):
                started = time.perf_counter()
                response = await client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                status = response.status_code
                if run >= 2:
                    samples.append(elapsed)
            if status != 200:
                print(f"  {path}: HTTP {status}, left out")
                continue
            samples.sort()
            timings[path] = {
                "p50": statistics.median(samples),
                "p95": samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
            }
            p50, p95 = timings[path]["p50"], timings[path]["p95"]
            print(f"  {path:45} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    return timings


async def bench_store(backend: str, jobs: int, runs: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        name = None
        if backend == "postgres":
            name, url = create_database("conveyor_dash_bench")
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        try:
            app = bench_app(url)
            await app.migrate()
            started = time.perf_counter()
            await asyncio.to_thread(seed_history, url, jobs)
            seconds = time.perf_counter() - started
            print(f"{backend}: {jobs:,} finished jobs written in {seconds:.0f} s")
            async with app:
                await seed_live(app)
                timings = await time_pages(app, runs)
            # The machine is shared: its load says how far the figures are from an idle box.
            LOADS[backend] = os.getloadavg()[0]
            return timings
        finally:
            if name is not None:
                drop_database(name)


def table(results: dict[str, dict[str, dict[str, float]]], jobs: int) -> str:
    backends = list(results)
    paths = list(dict.fromkeys(p for r in results.values() for p in r))
    head = "| page | " + " | ".join(f"{b} p50 / p95 (ms)" for b in backends) + " |"
    lines = [head, "|---|" + "---|" * len(backends)]
    for path in paths:
        cells = []
        for backend in backends:
            t = results[backend].get(path)
            cells.append("n/a" if t is None else f"{t['p50']:.1f} / {t['p95']:.1f}")
        lines.append(f"| `{path}` | " + " | ".join(cells) + " |")
    loads = ", ".join(f"{b} {load:.1f}" for b, load in LOADS.items())
    return (
        f"With {jobs:,} finished jobs in the store; 1-minute load average of the 2-CPU "
        f"machine at the end of each store's run: {loads}.\n\n" + "\n".join(lines)
    )


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    before, found, rest = doc.partition(START)
    if not found:
        raise SystemExit(f"{DOC} has no {START} marker")
    _, _, after = rest.partition(END)
    DOC.write_text(f"{before}{START}\n{text}\n{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard")
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs to seed")
    parser.add_argument("--runs", type=int, default=50, help="timed requests per page")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = {b: asyncio.run(bench_store(b, args.jobs, args.runs)) for b in args.stores}
    slow = [
        f"{b} {p}: p95 {t['p95']:.0f} ms"
        for b, r in results.items()
        for p, t in r.items()
        if t["p95"] > TARGET_P95_MS
    ]
    print(table(results, args.jobs))
    if args.write:
        RESULTS.write_text(
            json.dumps({"jobs": args.jobs, "runs": args.runs, "pages": results}, indent=2) + "\n"
        )
        write_doc(table(results, args.jobs))
    if slow:
        raise SystemExit("over the 150 ms p95 target: " + "; ".join(slow))


if __name__ == "__main__":
    main()
