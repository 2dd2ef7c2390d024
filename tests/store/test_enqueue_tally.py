"""Conformance: the enqueue counters behind ``conveyor_jobs_enqueued_total``. Every job
that lands in the jobs table is counted once, by the transaction that inserts it; nothing
else is, and pruning does not lower the count."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import timedelta

import psycopg

from conveyor.batches import Callback, NewBatch
from conveyor.schedule import Fire
from conveyor.store.base import Store
from conveyor.store.factory import sqlite_path
from conveyor.transactional import run_plan_sync
from tests.store.helpers import (
    NOW,
    claim,
    complete,
    insert,
    insert_many,
    is_sqlite_url,
    new_job,
)
from tests.store.test_schedule import CRON


async def test_nothing_enqueued_counts_nothing(store: Store) -> None:
    assert await store.enqueue_tallies() == {}


async def test_single_and_bulk_enqueues_count_by_task_and_queue(store: Store) -> None:
    await insert(store, new_job(task="mail", queue="email"))
    await insert_many(store, 5, task="mail", queue="email")
    await insert_many(store, 3, task="sms", queue="text")
    await insert(store, new_job(task="mail", queue="bulk"), new_job(task="sms", queue="text"))

    assert await store.enqueue_tallies() == {
        ("mail", "email"): 6,
        ("mail", "bulk"): 1,
        ("sms", "text"): 4,
    }


async def test_a_taken_idempotency_key_counts_only_the_job_it_created(store: Store) -> None:
    await insert(store, new_job(idempotency_key="k1"))
    # A second enqueue of k1, k1 twice in one batch, a fresh key and an unkeyed job.
    await insert(
        store,
        new_job(idempotency_key="k1"),
        new_job(idempotency_key="k2"),
        new_job(idempotency_key="k2"),
        new_job(),
    )

    assert await store.enqueue_tallies() == {("send_email", "default"): 3}


async def test_chunked_enqueue_counts_every_chunk(store: Store) -> None:
    chunks = [[new_job(), new_job(queue="other")], [new_job(idempotency_key="c")], []]

    await store.insert_job_chunks(chunks=chunks, now=NOW)

    assert await store.enqueue_tallies() == {
        ("send_email", "default"): 2,
        ("send_email", "other"): 1,
    }


async def test_a_batch_counts_its_children_once_and_its_callback_when_enqueued(
    store: Store,
) -> None:
    batch = NewBatch(idempotency_key="b", callback=Callback(task="done", queue="email", payload={}))
    children = [new_job(payload={"n": n}) for n in range(3)]
    await store.insert_batch(batch=batch, jobs=children, now=NOW)
    await store.insert_batch(batch=batch, jobs=children, now=NOW)  # key taken: nothing
    assert await store.enqueue_tallies() == {("send_email", "default"): 3}

    await store.ack_jobs(acks=[complete(j) for j in await claim(store)], now=NOW)

    assert await store.enqueue_tallies() == {("send_email", "default"): 3, ("done", "email"): 1}


async def test_a_fire_and_a_rerun_count_the_job_they_enqueue(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    fire = Fire("nightly", NOW + timedelta(hours=2))
    await store.record_fire(fire=fire, job=new_job(task="nightly"), allow_overlap=True, now=NOW)
    await store.record_fire(fire=fire, job=new_job(task="nightly"), allow_overlap=True, now=NOW)
    [job] = await claim(store)
    await store.ack_jobs(acks=[complete(job)], now=NOW)

    await store.rerun_job(job_id=job.id, now=NOW)

    assert await store.enqueue_tallies() == {("nightly", "default"): 2}


async def test_a_rolled_back_transactional_enqueue_counts_nothing(
    store: Store, store_url: str
) -> None:
    for commit in (False, True):
        plan = store.plan_insert([new_job(), new_job(idempotency_key="t")], now=NOW)
        if is_sqlite_url(store_url):
            with closing(sqlite3.connect(sqlite_path(store_url), isolation_level=None)) as lite:
                lite.execute("BEGIN IMMEDIATE")
                run_plan_sync(plan, lite)
                lite.execute("COMMIT" if commit else "ROLLBACK")
        else:
            with psycopg.connect(store_url) as pg:
                run_plan_sync(plan, pg)
                pg.commit() if commit else pg.rollback()
        counted = 2 if commit else 0
        assert (await store.enqueue_tallies()).get(("send_email", "default"), 0) == counted


async def test_pruning_jobs_does_not_lower_the_count(store: Store) -> None:
    await insert_many(store, 2)
    await store.ack_jobs(acks=[complete(j) for j in await claim(store)], now=NOW)

    pruned = await store.prune_finished(before=NOW + timedelta(days=1), limit=10)

    assert pruned == 2
    assert await store.enqueue_tallies() == {("send_email", "default"): 2}


async def test_folding_the_counts_keeps_every_total(store: Store) -> None:
    for _ in range(3):
        await insert_many(store, 2, task="mail", queue="email")
    await insert(store, new_job(task="sms", queue="text"))

    await store.compact_enqueue_tally()
    await insert(store, new_job(task="mail", queue="email"))
    await store.compact_enqueue_tally()

    assert await store.enqueue_tallies() == {("mail", "email"): 7, ("sms", "text"): 1}
    assert await store.compact_enqueue_tally() in (0, 2)  # folded already: one row a pair


async def test_an_open_transactional_enqueue_holds_up_no_other_enqueue(
    store: Store, store_url: str
) -> None:
    """A counter row updated in place would stay locked until the transaction that
    enqueued ended: another enqueue of the same task and queue would wait for it."""
    if is_sqlite_url(store_url):
        return  # one writer: an open write transaction holds every other writer anyway
    plan = store.plan_insert([new_job()], now=NOW)
    with psycopg.connect(store_url) as pg:
        run_plan_sync(plan, pg)  # left open, as a long request handler's transaction is
        await asyncio.wait_for(insert(store, new_job()), timeout=60)  # a hang guard only
        await asyncio.wait_for(store.compact_enqueue_tally(), timeout=60)
        assert await store.enqueue_tallies() == {("send_email", "default"): 1}
        pg.commit()
    assert await store.enqueue_tallies() == {("send_email", "default"): 2}
