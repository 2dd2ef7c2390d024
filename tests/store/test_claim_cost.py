"""Conformance: what a claim reads does not grow with the backlog it does not take.

The work a statement does is measured, not timed: PostgreSQL's EXPLAIN ANALYZE counts
the rows each scan of conveyor_jobs returned or filtered out; SQLite counts the virtual
machine steps of the statement (its progress handler). Each claim runs in a transaction
that is rolled back, so the same backlog is measured again after it shrinks.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from typing import Any, LiteralString, cast

import psycopg

from conveyor.store.base import Store
from conveyor.store.factory import open_store, sqlite_path
from conveyor.store.postgres.store import _WITH_FLOW_PROBE, _configure_claim_connection
from conveyor.store.sql import load_queries
from conveyor.store.sqlite.store import encode_time
from tests.store.helpers import NOW, TTL, insert, is_sqlite_url, new_job

BIG = 5_000
STEPS_PER_TICK = 100


def pg_rows_read(plan: dict[str, Any]) -> int:
    """Rows the scans of conveyor_jobs under ``plan`` produced or dropped by a filter."""
    read = 0
    if plan.get("Relation Name") == "conveyor_jobs" and "Scan" in plan["Node Type"]:
        kept = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        read += kept * plan["Actual Loops"]
    return read + sum(pg_rows_read(child) for child in plan.get("Plans", []))


def work_of(url: str, name: str, *, queues: list[str] | None, limit: int = 10) -> int:
    """How much the store's query ``name`` reads to claim ``limit`` jobs now (rolled back)."""
    params: dict[str, Any] = {"worker_id": "w", "limit": limit}
    if is_sqlite_url(url):
        params |= {"now": encode_time(NOW), "expires_at": encode_time(NOW + TTL)}
        params["queues"] = None if queues is None else json.dumps(queues)
        ticks = 0

        def tick() -> int:
            nonlocal ticks
            ticks += 1
            return 0

        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            conn.set_progress_handler(tick, STEPS_PER_TICK)
            conn.execute(load_queries("conveyor.store.sqlite")[name], params).fetchall()
            conn.rollback()
        return ticks
    params |= {"now": NOW, "expires_at": NOW + TTL, "lease_ttl": TTL, "queues": queues}
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + load_queries("conveyor.store.postgres")[name]
    with psycopg.connect(url) as conn:
        row = conn.execute(cast(LiteralString, sql), params).fetchone()
        conn.rollback()
    assert row is not None
    document = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return pg_rows_read(document[0]["Plan"])


async def _shrink(store: Store, jobs: list[Any], keep: int) -> None:
    ids = [j.id for j in jobs[keep:]]
    for start in range(0, len(ids), 500):
        await store.cancel_jobs(ids=ids[start : start + 500], now=NOW)


async def test_flow_claim_reads_no_more_of_a_big_fairness_backlog_than_of_a_small_one(
    store: Store, store_url: str
) -> None:
    big = await insert(store, *(new_job(fairness_key="big") for _ in range(BIG)))
    await insert(store, *(new_job(fairness_key="small") for _ in range(20)))
    await insert(store, *(new_job(concurrency_key="t1", concurrency_limit=2) for _ in range(50)))

    at_full_backlog = {
        queues: work_of(store_url, "claim_flow_jobs", queues=None if queues else ["default"])
        for queues in (True, False)
    }
    await _shrink(store, big, keep=100)
    at_small_backlog = {
        queues: work_of(store_url, "claim_flow_jobs", queues=None if queues else ["default"])
        for queues in (True, False)
    }

    for queues, small in at_small_backlog.items():
        assert at_full_backlog[queues] <= small * 1.25, (at_full_backlog, at_small_backlog)


async def test_plain_claim_does_not_walk_past_a_flow_backlog(store: Store, store_url: str) -> None:
    """Flow jobs that sort first (a lower priority value) are not in the plain claim's
    index, so the plain claim does not read and drop them one by one."""
    flow = await insert(store, *(new_job(fairness_key="big", priority=-1) for _ in range(BIG)))
    await insert(store, *(new_job() for _ in range(20)))

    with_backlog = [work_of(store_url, "claim_jobs_any_queue", queues=None)]
    with_backlog.append(work_of(store_url, "claim_jobs", queues=["default"]))
    await _shrink(store, flow, keep=0)
    without = [work_of(store_url, "claim_jobs_any_queue", queues=None)]
    without.append(work_of(store_url, "claim_jobs", queues=["default"]))

    for full, bare in zip(with_backlog, without, strict=True):
        assert full <= bare * 1.25, (with_backlog, without)


async def test_plain_claim_connections_compile_nothing_per_claim(pg_url: str) -> None:
    """PostgreSQL only (JIT is its own): the claim connections price sorts out, which puts
    every claim plan's cost past jit_above_cost; compiling it took ~300 ms per claim."""
    store = await open_store(pg_url, migrate=True)
    try:
        await insert(store, *(new_job() for _ in range(50)))
    finally:
        await store.close()
    params = {"worker_id": "w", "limit": 10, "now": NOW, "expires_at": NOW + TTL, "lease_ttl": TTL}
    queries = load_queries("conveyor.store.postgres")
    # As the store opens its claim connections: autocommit, then its own configuration.
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await _configure_claim_connection(conn)
        for name, queues in (("claim_jobs", ["default"]), ("claim_jobs_any_queue", None)):
            sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + queries[name]
            async with conn.transaction(force_rollback=True):
                cur = await conn.execute(cast(LiteralString, sql), {**params, "queues": queues})
                row = await cur.fetchone()
            assert row is not None
            document = row[0] if isinstance(row[0], list) else json.loads(row[0])
            assert pg_rows_read(document[0]["Plan"]) > 0  # it did claim
            assert "JIT" not in document[0], (name, document[0]["JIT"])


async def test_plain_claims_are_planned_once_per_connection(pg_url: str) -> None:
    """PostgreSQL only: a claim connection plans each claim statement once, however the
    statistics look, and that one plan still takes the claimed rows by primary key. With
    the default plan cache mode, statistics made PostgreSQL plan claims afresh each time
    (a sixth of a claim's backend CPU), and a generic plan left to itself hashed a scan
    of the whole table."""
    store = await open_store(pg_url, migrate=True)
    try:
        for queue in ("a", "b", "c"):
            await insert(store, *(new_job(queue=queue) for _ in range(700)))
    finally:
        await store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE conveyor_jobs")
    values = {"limit": "10", "now": f"'{NOW.isoformat()}'", "expires_at": f"'{NOW.isoformat()}'"}
    values |= {"worker_id": "'w'", "queues": "'{b}'", "lease_ttl": "'30 seconds'"}
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await _configure_claim_connection(conn)
        for name, sql in _WITH_FLOW_PROBE.items():
            # The store's statement, as a server-side prepared statement (psycopg prepares
            # it the same way after a few executions) that EXPLAIN can execute.
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
            text = sql
            for number, param in enumerate(names, start=1):
                text = text.replace(f"%({param})s", f"${number}")
            await conn.execute(cast(LiteralString, f"PREPARE {name} AS {text}"))
            arguments = ", ".join(values[n] for n in names)
            execute = f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name} ({arguments})"
            for _ in range(6):  # past the five custom plans the default mode starts with
                async with conn.transaction(force_rollback=True):
                    cur = await conn.execute(cast(LiteralString, execute))
                    row = await cur.fetchone()
            assert row is not None
            document = row[0] if isinstance(row[0], list) else json.loads(row[0])
            assert 0 < pg_rows_read(document[0]["Plan"]) <= 30, (name, document)
            cur = await conn.execute(
                "SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE name = %s",
                (name,),
            )
            assert await cur.fetchone() == (0, 6), name
