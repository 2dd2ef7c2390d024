"""PostgreSQL's state index leaves out running and completed jobs (migration 0010): the
reads that filter by the other states must still find them through it, not by walking
the finished history. Measured as in ``test_claim_cost`` (rows the scans of conveyor_jobs
returned or filtered out), once over a long history and once after it was pruned.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, LiteralString, cast

import psycopg

from conveyor.job import JobState
from conveyor.store.base import JobFilter
from conveyor.store.factory import open_store
from conveyor.store.job_methods import filter_params
from conveyor.store.postgres.connector import PostgresConnector
from conveyor.store.sql import load_queries
from tests.store.helpers import NOW, claim, complete, fail, insert_many, raw_execute
from tests.store.test_claim_cost import pg_rows_read

HISTORY = 3_000
QUERIES = load_queries("conveyor.store.postgres")


def rows_read(url: str, name: str, params: dict[str, Any]) -> int:
    """Rows the store's query ``name`` reads, planned for these values as the store runs it
    (unprepared, on a fresh connection)."""
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + QUERIES[name]
    with psycopg.connect(url) as conn:
        row = conn.execute(cast(LiteralString, sql), params, prepare=False).fetchone()
        conn.rollback()
    assert row is not None
    document = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return pg_rows_read(document[0]["Plan"])


def _filter_params(f: JobFilter, url: str) -> dict[str, Any]:
    return filter_params(f, PostgresConnector(url))


def admin_reads(url: str) -> dict[str, int]:
    failed = {
        **_filter_params(JobFilter(states=[JobState.FAILED]), url),
        "after": None,
        "limit": 51,
    }
    waiting = JobFilter(states=[JobState.AVAILABLE, JobState.RETRYING])
    return {
        "failed jobs": rows_read(url, "list_jobs", failed),
        "waiting jobs": rows_read(
            url, "list_jobs", {**_filter_params(waiting, url), "after": None, "limit": 51}
        ),
        "queues": rows_read(url, "list_queues", {"now": NOW}),
        "queue depths (metrics)": rows_read(url, "queue_depths", {"now": NOW}),
    }


async def test_listing_unfinished_or_failed_jobs_does_not_read_the_finished_history(
    pg_url: str,
) -> None:
    store = await open_store(pg_url, migrate=True)
    later = NOW + timedelta(hours=1)
    try:
        await insert_many(store, HISTORY)
        for _ in range(HISTORY // 500):
            done = await claim(store, limit=500)
            await store.ack_jobs(acks=[complete(job) for job in done], now=NOW)
        await insert_many(store, 30, now=later)
        running = await claim(store, limit=10, now=later)
        await store.ack_jobs(acks=[fail(job) for job in running[:5]], now=later)
        raw_execute(pg_url, "ANALYZE conveyor_jobs")
        with_history = admin_reads(pg_url)

        assert await store.prune_finished(before=NOW + timedelta(seconds=1), limit=HISTORY) > 0
        raw_execute(pg_url, "ANALYZE conveyor_jobs")
        without_history = admin_reads(pg_url)
    finally:
        await store.close()

    for read, bare in without_history.items():
        assert with_history[read] <= bare * 1.25 + 5, (with_history, without_history)
