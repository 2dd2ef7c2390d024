"""A store as months of use leave it: a million finished jobs, some open work, schedules,
batches and a few live workers with their tallies."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg
from pydantic import BaseModel

from conveyor import Conveyor, JobContext
from conveyor.job import Job, JobState
from conveyor.metrics.tally import Tally

TASKS = ("bench.receipt", "bench.sync", "bench.import", "bench.grant", "bench.campaign")
QUEUES = ("default", "email", "sync")
OPEN_JOBS = 2_000
WORKERS = 4
BATCHES = 50


class Item(BaseModel):
    i: int = 0


def bench_app(url: str) -> Conveyor:
    """An app whose tasks are the ones the seeded history names."""
    app = Conveyor(url)
    for index, name in enumerate(TASKS):

        async def handler(payload: Item, ctx: JobContext) -> None:
            return None

        app.task(name=name, queue=QUEUES[index % len(QUEUES)])(handler)
    return app


# History: one job finished every 2 s back from now (a million jobs span 23 days, inside
# the default 30-day retention); 2% failed with an error, 1% cancelled, the rest completed.
SEED_POSTGRES = """
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, attempt,
                           run_at, created_at, started_at, finished_at, errors)
SELECT (%(tasks)s::text[])[1 + g %% 5], (%(queues)s::text[])[1 + g %% 3],
       CASE WHEN g %% 50 = 0 THEN 'failed' WHEN g %% 100 = 1 THEN 'cancelled'
            ELSE 'completed' END,
       jsonb_build_object('i', g), 0, 3, CASE WHEN g %% 50 = 0 THEN 3 ELSE 1 END,
       t, t, t, t + interval '40 milliseconds',
       CASE WHEN g %% 50 = 0 THEN jsonb_build_array(jsonb_build_object(
           'attempt', 3, 'type', 'RuntimeError', 'message', 'upstream said no',
           'traceback', 'Traceback (most recent call last): ...', 'at', t))
            ELSE '[]'::jsonb END
FROM generate_series(1, %(count)s) AS g,
     LATERAL (SELECT now() - (%(count)s - g) * interval '2 seconds' AS t) AS moment
"""

SEED_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count),
moment AS (
    SELECT n, strftime('%Y-%m-%d %H:%M:%S', :now, '-' || ((:count - n) * 2) || ' seconds')
              AS t
    FROM g
)
INSERT INTO conveyor_jobs (task, queue, state, payload, priority, max_attempts, attempt,
                           run_at, created_at, started_at, finished_at, errors)
SELECT json_extract(:tasks, '$[' || (n % 5) || ']'), json_extract(:queues, '$[' || (n % 3) || ']'),
       CASE WHEN n % 50 = 0 THEN 'failed' WHEN n % 100 = 1 THEN 'cancelled'
            ELSE 'completed' END,
       json_object('i', n), 0, 3, CASE WHEN n % 50 = 0 THEN 3 ELSE 1 END,
       t || '.000000', t || '.000000', t || '.000000', t || '.040000',
       CASE WHEN n % 50 = 0 THEN json_array(json_object(
           'attempt', 3, 'type', 'RuntimeError', 'message', 'upstream said no',
           'traceback', 'Traceback (most recent call last): ...', 'at', t || '+00:00'))
            ELSE '[]' END
FROM moment
"""


def seed_history(url: str, count: int) -> None:
    """Write ``count`` finished jobs with one statement, as COPY-speed as each store goes."""
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                SEED_POSTGRES, {"count": count, "tasks": list(TASKS), "queues": list(QUEUES)}
            )
            conn.execute("VACUUM ANALYZE conveyor_jobs")
        return
    import json

    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            SEED_SQLITE,
            {"count": count, "now": now, "tasks": json.dumps(TASKS), "queues": json.dumps(QUEUES)},
        )
        conn.execute("ANALYZE")


async def seed_live(app: Conveyor) -> None:
    """Open work, schedules, batches and live workers, through the app like real use."""
    rng = random.Random(7)
    for index, name in enumerate(TASKS):
        payloads = [{"i": n} for n in range(OPEN_JOBS // len(TASKS))]
        await app.enqueue_many(name, payloads, delay=3600 if index % 2 else None)
        await app.create_schedule(
            f"nightly-{index}", name, cron=f"{index} 2 * * *", timezone="America/Chicago"
        )
        await app.create_schedule(f"every-{index}", name, every=60 * (index + 1))
    for index in range(BATCHES):
        await app.enqueue_batch(
            TASKS[index % len(TASKS)], [{"i": n} for n in range(20)], callback=TASKS[0]
        )
    await app.pause_queue("sync")
    store = await app.store()
    now = app.clock.now()
    for index in range(WORKERS):
        tally = Tally()
        job = _job(TASKS[index % len(TASKS)], QUEUES[index % len(QUEUES)])
        for minute in range(24 * 60):
            at = now - timedelta(minutes=minute)
            for _ in range(rng.randrange(0, 20)):
                tally.finish(job, "completed" if rng.random() > 0.05 else "failed", 0.02, at=at)
        worker_id = f"bench-worker-{index}"
        await store.register_worker(
            worker_id=worker_id, host="bench-host", pid=1000 + index, queues=list(QUEUES),
            concurrency=100, now=now,
        )  # fmt: skip
        await store.heartbeat_worker(
            worker_id=worker_id, executors=10, running=0, completed=1000, state="running",
            now=now, metrics=tally.to_json(),
        )  # fmt: skip


def _job(task: str, queue: str) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=0, task=task, queue=queue, state=JobState.RUNNING, payload={}, priority=0,
        attempt=1, max_attempts=3, run_at=now, created_at=now,
    )  # fmt: skip
