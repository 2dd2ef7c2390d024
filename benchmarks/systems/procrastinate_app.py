"""The Procrastinate app of the benchmark, and its worker process (``python -m``).

The worker runs with LISTEN/NOTIFY on (Procrastinate's default and fastest wake-up) and
``concurrency`` sub-workers, as its concurrency how-to recommends for async tasks.
"""

from __future__ import annotations

import asyncio
import os

import procrastinate

from benchmarks.systems.latency import record_start

CONCURRENCY = int(os.environ.get("BENCH_PROCRASTINATE_CONCURRENCY", "100"))


async def noop(i: int = 0) -> None:
    return None


async def sleep(i: int = 0) -> None:
    await asyncio.sleep(0.01)


async def latency(sent_at: float) -> None:
    record_start(sent_at)


def build(url: str) -> procrastinate.App:
    """An app with the three benchmark tasks (named as the job kinds) on ``url``."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    for fn in (noop, sleep, latency):
        app.task(name=fn.__name__, queue="bench")(fn)
    return app


async def main() -> None:
    app = build(os.environ["BENCH_DATABASE_URL"])
    async with app.open_async():
        # Procrastinate's worker stops gracefully on SIGTERM by itself.
        await app.run_worker_async(queues=["bench"], concurrency=CONCURRENCY, wait=True)


if __name__ == "__main__":
    asyncio.run(main())
