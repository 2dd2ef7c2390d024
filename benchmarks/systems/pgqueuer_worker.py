"""One PgQueuer worker process: asyncpg driver, batch size 100, LISTEN/NOTIFY wake-ups.

That is PgQueuer's fastest documented shape (its own benchmark tool uses asyncpg and
large batches). Started by ``benchmarks.systems.pgqueuer_peer`` with the database in
``BENCH_DATABASE_URL``; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import timedelta

import asyncpg
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.models import Job

from benchmarks.systems.latency import record_start

BATCH_SIZE = 100


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop")
    async def noop(job: Job) -> None:
        return None

    @qm.entrypoint("sleep")
    async def sleep(job: Job) -> None:
        await asyncio.sleep(0.01)

    @qm.entrypoint("latency")
    async def latency(job: Job) -> None:
        record_start(json.loads(job.payload or b"{}")["sent_at"])

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, qm.shutdown.set)
    await qm.run(batch_size=BATCH_SIZE, dequeue_timeout=timedelta(seconds=1))
    await conn.close()


if __name__ == "__main__":
    import os

    asyncio.run(main(os.environ["BENCH_DATABASE_URL"]))
