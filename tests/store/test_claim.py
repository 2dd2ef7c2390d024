"""Conformance: claiming due jobs in order, exactly once, under concurrency."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conveyor.job import JobState, Progress
from conveyor.store.base import JobFilter, Store
from conveyor.store.factory import open_store
from conveyor.store.postgres.store import _WITH_FLOW_PROBE, PostgresStore
from conveyor.store.sql import load_queries
from conveyor.store.sqlite.store import encode_time
from tests.store.helpers import (
    NOW,
    TTL,
    claim,
    complete,
    fail,
    insert,
    insert_many,
    is_sqlite_url,
    new_job,
    raw_execute,
)

CONCURRENT_JOBS = 2_000


async def test_claim_never_returns_more_than_limit(store: Store) -> None:
    await insert_many(store, 10)

    first = await claim(store, limit=3)
    second = await claim(store, limit=5)
    third = await claim(store, limit=5)

    assert [len(first), len(second), len(third)] == [3, 5, 2]


async def test_claim_with_zero_limit_or_no_queues_claims_nothing(store: Store) -> None:
    await insert_many(store, 3)

    assert await claim(store, limit=0) == []
    assert await claim(store, queues=[]) == []
    assert len(await claim(store, limit=10)) == 3


async def test_claim_orders_by_priority_then_run_at_then_id(store: Store) -> None:
    early, late = NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)
    jobs = await insert(
        store,
        new_job(payload={"name": "p1-late-a"}, priority=1, run_at=late),
        new_job(payload={"name": "p0-late"}, priority=0, run_at=late),
        new_job(payload={"name": "p1-early"}, priority=1, run_at=early),
        new_job(payload={"name": "p1-late-b"}, priority=1, run_at=late),
        new_job(payload={"name": "p-1-late"}, priority=-1, run_at=late),
        new_job(payload={"name": "p0-early"}, priority=0, run_at=early),
    )
    expected = ["p-1-late", "p0-early", "p0-late", "p1-early", "p1-late-a", "p1-late-b"]

    order: list[str] = []
    for _ in jobs:
        [job] = await claim(store, limit=1)
        order.append(job.payload["name"])

    assert order == expected


async def test_claim_picks_the_first_jobs_in_order_when_more_are_due(store: Store) -> None:
    jobs = await insert(
        store,
        *(
            new_job(priority=p, run_at=NOW - timedelta(seconds=s))
            for p in (2, 0, 1)
            for s in (1, 2)
        ),
    )
    by_order = sorted(jobs, key=lambda j: (j.priority, j.run_at, j.id))

    claimed = await claim(store, limit=3)

    assert {j.id for j in claimed} == {j.id for j in by_order[:3]}


async def test_claim_does_not_claim_scheduled_job_before_run_at(store: Store) -> None:
    [job] = await insert(store, new_job(run_at=NOW + timedelta(minutes=10)))

    assert await claim(store, now=NOW) == []
    just_before = NOW + timedelta(minutes=10) - store.capabilities.time_precision
    assert await claim(store, now=just_before) == []
    assert (await store.get_job(job_id=job.id)).state is JobState.SCHEDULED


async def test_claim_claims_scheduled_job_once_run_at_has_passed(store: Store) -> None:
    run_at = NOW + timedelta(minutes=10)
    [job] = await insert(store, new_job(run_at=run_at))

    [claimed] = await claim(store, now=run_at)

    assert claimed.id == job.id
    assert claimed.state is JobState.RUNNING
    assert claimed.started_at == run_at


async def test_claim_only_takes_jobs_of_the_given_queues(store: Store) -> None:
    a, b, c = await insert(store, new_job(queue="a"), new_job(queue="b"), new_job(queue="c"))

    claimed = await claim(store, queues=["a", "c", "missing"])

    assert sorted(j.id for j in claimed) == [a.id, c.id]
    assert (await store.get_job(job_id=b.id)).state is JobState.AVAILABLE
    assert [j.id for j in await claim(store, queues=["b"])] == [b.id]


async def test_claim_with_no_queue_filter_takes_any_queue(store: Store) -> None:
    jobs = await insert(store, new_job(queue="a"), new_job(queue="b"), new_job(queue="c"))

    claimed = await claim(store, queues=None)

    assert sorted(j.id for j in claimed) == [j.id for j in jobs]


async def test_claim_makes_job_running_with_a_fresh_lease(store: Store) -> None:
    [job] = await insert(store)
    now = NOW + timedelta(seconds=5)

    [claimed] = await claim(store, now=now, ttl=timedelta(seconds=45), worker_id="w-7")

    assert claimed.id == job.id
    assert claimed.state is JobState.RUNNING
    assert claimed.attempt == 1
    assert claimed.lease_token
    assert claimed.lease_expires_at == now + timedelta(seconds=45)
    assert claimed.worker_id == "w-7"
    assert claimed.started_at == now
    assert claimed.finished_at is None
    assert claimed.lease is not None
    assert claimed.lease.token == claimed.lease_token
    assert await store.get_job(job_id=job.id) == claimed


async def test_a_claimed_job_equals_the_job_read_back_whatever_it_carries(store: Store) -> None:
    """The claim does not read back what it set itself (state, start, lease expiry,
    worker): the jobs it returns must still be exactly what the store holds, for a job
    with every optional column filled, for a flow job (the flow claim) and for a claim
    whose clock is in another zone than UTC. The claim builds its jobs column by column:
    a bare job in the same claim keeps every optional column of the others apart."""
    full, flow, bare = await insert(
        store,
        new_job(
            payload={"to": "b@example.com", "n": [1, 2.5, None], "s": "\u00e9"},
            priority=-3,
            max_attempts=5,
            idempotency_key="k-1",
            timeout_seconds=12.5,
        ),
        new_job(concurrency_key="tenant-1", concurrency_limit=2, fairness_key="tenant-1"),
        new_job(priority=7),
    )
    [first] = await claim(store, limit=1)
    assert first.id == full.id
    await store.save_progress(lease=first.lease, progress=Progress(3, 7))  # type: ignore[arg-type]
    await store.save_checkpoint(lease=first.lease, checkpoint={"cursor": 41})  # type: ignore[arg-type]
    await store.ack_jobs(acks=[fail(first, retry_at=NOW)], now=NOW)
    elsewhere = (NOW + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))

    claimed = await claim(store, limit=10, now=elsewhere)

    assert {job.id for job in claimed} == {full.id, flow.id, bare.id}
    for job in claimed:
        assert job == await store.get_job(job_id=job.id)
        assert job.started_at == elsewhere and job.started_at.utcoffset() == timedelta(0)
    again = next(job for job in claimed if job.id == full.id)
    assert (again.attempt, again.progress, again.checkpoint) == (2, Progress(3, 7), {"cursor": 41})
    assert len(again.errors) == 1


async def test_claim_gives_each_claim_a_different_lease_token(store: Store) -> None:
    await insert_many(store, 20)

    claimed = await claim(store, limit=20)

    assert len({j.lease_token for j in claimed}) == 20


async def test_claimed_job_is_not_claimed_again(store: Store) -> None:
    [job] = await insert(store)
    [claimed] = await claim(store)

    assert await claim(store, worker_id="other") == []
    assert await claim(store, worker_id="other", now=NOW + timedelta(hours=1)) == []
    assert (await store.get_job(job_id=job.id)).lease_token == claimed.lease_token


async def test_claim_skips_finished_jobs(store: Store) -> None:
    first, second = await insert_many(store, 2)
    [claimed] = await claim(store, limit=1)
    await store.ack_jobs(acks=[complete(claimed)], now=NOW)

    again = await claim(store, limit=10)

    assert claimed.id == first.id
    assert [j.id for j in again] == [second.id]


async def _claim_until_empty(store: Store, worker_id: str) -> list[int]:
    claimed: list[int] = []
    while jobs := await claim(store, limit=25, worker_id=worker_id, ttl=timedelta(minutes=5)):
        claimed.extend(j.id for j in jobs)
    return claimed


async def test_concurrent_claimers_claim_every_job_exactly_once(
    store: Store, store_url: str
) -> None:
    inserted = await insert_many(store, CONCURRENT_JOBS)
    claimers = [await open_store(store_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(_claim_until_empty(s, f"w-{n}") for n, s in enumerate(claimers))
        )
    finally:
        for s in claimers:
            await s.close()

    times_claimed = Counter(job_id for ids in results for job_id in ids)
    assert set(times_claimed) == {j.id for j in inserted}
    assert set(times_claimed.values()) == {1}
    assert await claim(store) == []
    assert [(c.state, c.count) for c in await store.count_jobs()] == [
        (JobState.RUNNING, CONCURRENT_JOBS)
    ]


async def test_claimer_processes_claim_every_job_exactly_once(
    store: Store, store_url: str, request: pytest.FixtureRequest
) -> None:
    inserted = await insert_many(store, CONCURRENT_JOBS)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store.claimers",
            store_url,
            f"proc-{n}",
            cwd=Path(request.config.rootpath),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(4)
    ]
    try:
        # Every process has opened its store before any starts claiming.
        for proc in processes:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        for proc in processes:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await proc.communicate() for proc in processes]
    finally:
        for proc in processes:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    assert [proc.returncode for proc in processes] == [0, 0, 0, 0]
    results: list[list[int]] = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    times_claimed = Counter(job_id for ids in results for job_id in ids)
    assert set(times_claimed) == {j.id for j in inserted}
    assert set(times_claimed.values()) == {1}
    running = await store.list_jobs(
        filter=JobFilter(states=[JobState.RUNNING]), after=None, limit=CONCURRENT_JOBS + 1
    )
    assert len(running.jobs) == CONCURRENT_JOBS
    assert {j.worker_id for j in running.jobs} <= {f"proc-{n}" for n in range(4)}


def claim_plans(store_url: str, *, queues: list[str] | None) -> list[str]:
    """The plans of the store's own claim statement (ad-hoc SQL, so per dialect).

    PostgreSQL plans from the statistics autovacuum keeps; SQLite's plan must hold both
    without statistics (its normal state: the store never runs ANALYZE) and with them.
    """
    name = "claim_jobs_any_queue" if queues is None else "claim_jobs"
    params: dict[str, Any] = {"worker_id": "w", "limit": 10}
    if is_sqlite_url(store_url):
        sql = "EXPLAIN QUERY PLAN " + load_queries("conveyor.store.sqlite")[name]
        params |= {"now": encode_time(NOW), "expires_at": encode_time(NOW + TTL)}
        if queues is not None:
            params["queues"] = json.dumps(queues)
        plans = []
        for analyze in (False, True):
            if analyze:
                raw_execute(store_url, "ANALYZE")
            rows = raw_execute(store_url, sql, params)
            plans.append("\n".join(str(row[-1]) for row in rows))
        return plans
    raw_execute(store_url, "ANALYZE conveyor_jobs")
    sql = "EXPLAIN " + load_queries("conveyor.store.postgres")[name]
    params |= {"now": NOW, "expires_at": NOW + TTL, "lease_ttl": TTL}
    if queues is not None:
        params["queues"] = queues
    return ["\n".join(str(row[0]) for row in raw_execute(store_url, sql, params))]


async def _insert_history_and_backlog(store: Store) -> None:
    finished = await insert_many(store, 2_000, queue="reports")
    for start in range(0, len(finished), 500):
        await store.cancel_jobs(ids=[j.id for j in finished[start : start + 500]], now=NOW)
    await insert_many(store, 20, queue="default")
    await insert_many(store, 1_000, queue="other")
    # A paused queue with a backlog: skipping it must not cost the claim its index.
    await insert_many(store, 500, queue="held", priority=-1)
    await store.pause_queue(queue="held", now=NOW)


def reads_paused_queues_once(plan: str) -> bool:
    """The paused-queue lookup runs once per statement, not once per job row: PostgreSQL
    shows it as a hashed SubPlan (or an InitPlan), SQLite as a LIST SUBQUERY that is not
    CORRELATED."""
    once = "hashed SubPlan" in plan or "InitPlan" in plan or "LIST SUBQUERY" in plan
    return "conveyor_queues" in plan and once and "CORRELATED" not in plan


async def test_claim_of_given_queues_reads_the_partial_claim_index(
    store: Store, store_url: str
) -> None:
    """Finished history must not slow claims down: the claim reads the partial index."""
    await _insert_history_and_backlog(store)

    for plan in claim_plans(store_url, queues=["default"]):
        assert "conveyor_jobs_claim_idx" in plan, plan
        assert reads_paused_queues_once(plan), plan
    for plan in claim_plans(store_url, queues=["default", "held"]):
        assert "conveyor_jobs_claim_idx" in plan, plan


async def test_claim_of_any_queue_reads_the_partial_claim_index(
    store: Store, store_url: str
) -> None:
    await _insert_history_and_backlog(store)

    for plan in claim_plans(store_url, queues=None):
        assert "conveyor_jobs_claim_any_idx" in plan, plan
        assert reads_paused_queues_once(plan), plan


async def test_a_backlog_without_history_is_claimed_through_the_index(
    store: Store, store_url: str
) -> None:
    """With nothing but due jobs in the table the claim must still walk the index and stop
    after its limit, not read and sort the whole backlog for every batch it claims."""
    for _ in range(5):
        await insert_many(store, 1_000, queue="default")
    await store.pause_queue(queue="held", now=NOW)

    for plan in claim_plans(store_url, queues=None):
        assert "conveyor_jobs_claim_any_idx" in plan, plan
        assert "Seq Scan on conveyor_jobs" not in plan, plan
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
        assert reads_paused_queues_once(plan), plan
    if not is_sqlite_url(store_url):  # SQLite sorts the due jobs of a listed queue set
        for plan in claim_plans(store_url, queues=["default"]):
            assert "Index Scan using conveyor_jobs_claim" in plan, plan
            # Sorting the few candidates taken from the index is fine; sorting the backlog
            # (a sort over a scan of the jobs table) is what must not happen.
            assert "Seq Scan on conveyor_jobs" not in plan, plan
            assert "Sort Key: conveyor_jobs." not in plan, plan


async def test_the_flow_probe_takes_one_step_into_the_flow_index(
    store: Store, store_url: str
) -> None:
    """A claim that leaves free slots asks whether any flow job waits before it runs the
    flow claim; with a big plain backlog and no flow job that question must cost one index
    step, not a scan of the table (PostgreSQL: as the claim connections plan it, with sorts
    priced out and no statistics yet)."""
    await insert_many(store, 5_000, queue="default")
    if is_sqlite_url(store_url):
        sql = "EXPLAIN QUERY PLAN " + load_queries("conveyor.store.sqlite")["flow_jobs_waiting"]
        plan = "\n".join(str(row[-1]) for row in raw_execute(store_url, sql))
        assert "USING INDEX conveyor_jobs_flow_group_idx" in plan, plan
        return
    sql = load_queries("conveyor.store.postgres")["flow_jobs_waiting"]
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("SET enable_sort = off")
        conn.execute("SET jit = off")
        plan = "\n".join(str(row[0]) for row in conn.execute("EXPLAIN " + sql).fetchall())
        assert "Index Scan using conveyor_jobs_flow_group_idx" in plan, plan
        assert "Seq Scan" not in plan and "Sort" not in plan, plan
        # The probe as it runs, inside each plain claim statement: still one index step.
        params = {"limit": 10, "now": NOW, "expires_at": NOW, "worker_id": "w", "queues": ["a"]}
        params["lease_ttl"] = TTL
        for claim in _WITH_FLOW_PROBE.values():
            explained = conn.execute("EXPLAIN " + claim, params).fetchall()
            plan = "\n".join(str(row[0]) for row in explained)
            assert "Index Scan using conveyor_jobs_flow_group_idx" in plan, plan
            assert "Seq Scan on conveyor_jobs " not in plan, plan


async def test_only_the_claim_connections_commit_without_waiting_for_the_wal_flush(
    pg_url: str,
) -> None:
    """PostgreSQL only (a session setting of its own). A claim may commit asynchronously:
    losing it in a server crash runs its job again, which at-least-once allows. Every other
    connection - enqueues, acks, handler transactions - waits for its commit to be flushed
    (DESIGN §2.1: a returned enqueue is on disk)."""
    store = await open_store(pg_url, migrate=True)
    assert isinstance(store, PostgresStore)
    try:
        await insert(store, new_job())
        assert len(await claim(store)) == 1  # the claim connections are opened and used
        async with (await store._claim_connections()).connection() as conn:
            claiming = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        async with store._require_pool().connection() as conn:
            pooled = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        async with store.transaction() as tx:
            in_transaction = await tx.execute("SHOW synchronous_commit")
    finally:
        await store.close()
    assert claiming == ("off",)
    assert pooled == ("on",)
    assert in_transaction == [{"synchronous_commit": "on"}]
