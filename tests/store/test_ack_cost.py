"""Conformance: an ack reads the jobs it acks, not every running job.

Measured as in ``test_claim_cost``: PostgreSQL's EXPLAIN ANALYZE counts the rows each scan
of conveyor_jobs returned or filtered out, SQLite counts virtual machine steps; each ack
is rolled back, so the same jobs are measured again. The statistics are taken while no
job runs, as in any burst of work: a planner that trusts them believes almost nothing is
running.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any, LiteralString, cast

import psycopg

from conveyor.job import Job
from conveyor.store.base import Completion, Store
from conveyor.store.factory import sqlite_path
from conveyor.store.postgres.fence import fenced, results_json
from conveyor.store.sql import load_queries
from conveyor.store.sqlite.connector import encode_time
from tests.store.helpers import NOW, claim, complete, insert_many, is_sqlite_url, raw_execute
from tests.store.test_claim_cost import STEPS_PER_TICK, pg_rows_read

RUNNING = 2_000
ACKED = 10


def ack_work(url: str, jobs: list[Job]) -> int:
    """How much the store's complete_jobs reads to complete ``jobs`` (rolled back)."""
    acks = [complete(job, {"n": job.id}) for job in jobs]
    if is_sqlite_url(url):
        ticks = 0

        def tick() -> int:
            nonlocal ticks
            ticks += 1
            return 0

        sql = load_queries("conveyor.store.sqlite")["complete_jobs"]
        batch = [[ack.job_id, ack.token, json.dumps(ack.result)] for ack in acks]
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            conn.set_progress_handler(tick, STEPS_PER_TICK)
            params = {"jobs": json.dumps(batch), "now": encode_time(NOW)}
            assert len(conn.execute(sql, params).fetchall()) == len(acks)
            conn.rollback()
        return ticks
    completions = cast(list[Completion], acks)
    params: dict[str, Any] = {**fenced(completions), "results": results_json(completions)}
    statement = load_queries("conveyor.store.postgres")["complete_jobs"]
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + statement
    with psycopg.connect(url) as conn:
        row = conn.execute(cast(LiteralString, sql), {**params, "now": NOW}).fetchone()
        conn.rollback()
    assert row is not None
    document = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return pg_rows_read(document[0]["Plan"])


async def test_an_ack_reads_no_more_with_many_jobs_running_than_with_few(
    store: Store, store_url: str
) -> None:
    await insert_many(store, RUNNING)
    raw_execute(store_url, "ANALYZE")
    running = await claim(store, limit=RUNNING)
    assert len(running) == RUNNING

    with_many_running = ack_work(store_url, running[:ACKED])
    # Finish all but a few, as a drain does: their old versions linger in the indexes.
    rest = running[ACKED * 2 :]
    for start in range(0, len(rest), 500):
        await store.ack_jobs(acks=[complete(job) for job in rest[start : start + 500]], now=NOW)
    with_few_running = ack_work(store_url, running[:ACKED])

    assert with_many_running <= with_few_running * 1.25, (with_many_running, with_few_running)
