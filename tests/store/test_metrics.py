"""The store's side of metrics: open-job depths per queue and state, and worker tallies
that survive the worker's removal."""

from __future__ import annotations

from datetime import timedelta

from conveyor.metrics.tally import Tally
from conveyor.store.base import Completion, Store
from tests.store.helpers import NOW, claim, insert, insert_many, new_job


def tally_of(*finished: tuple[str, str, str, int]) -> Tally:
    tally = Tally()
    for task, queue, outcome, count in finished:
        tally.finished[(task, queue, outcome)] += count
    return tally


async def register(store: Store, worker_id: str) -> None:
    await store.register_worker(
        worker_id=worker_id, host="box", pid=1, queues=None, concurrency=4, now=NOW
    )


async def beat(store: Store, worker_id: str, tally: Tally | None, state: str = "running") -> None:
    await store.heartbeat_worker(
        worker_id=worker_id,
        executors=2,
        running=0,
        completed=0,
        state=state,
        now=NOW,
        metrics=None if tally is None else tally.to_json(),
    )


async def test_depths_count_open_jobs_by_queue_and_state(store: Store) -> None:
    await insert_many(store, 3, queue="email")
    await insert(store, new_job(queue="email", run_at=NOW + timedelta(hours=1)))
    await insert_many(store, 2, queue="sms")
    await claim(store, limit=1, queues=["sms"])

    depths = {(d.queue, d.state): d.count for d in await store.queue_depths(now=NOW)}

    assert depths == {
        ("email", "available"): 3,
        ("email", "scheduled"): 1,
        ("sms", "available"): 1,
        ("sms", "running"): 1,
    }


async def test_depths_leave_out_finished_jobs(store: Store) -> None:
    await insert(store)
    [job] = await claim(store)
    assert job.lease_token is not None
    await store.ack_jobs(acks=[Completion(job.id, job.lease_token, None)], now=NOW)
    assert await store.queue_depths(now=NOW) == []


async def test_oldest_due_is_the_longest_waiting_job_that_could_run(store: Store) -> None:
    await insert(store, new_job(queue="email", run_at=NOW - timedelta(minutes=5)))
    await insert(store, new_job(queue="email", run_at=NOW - timedelta(minutes=1)))
    await insert(store, new_job(queue="email", run_at=NOW + timedelta(minutes=9)))

    oldest = [d.oldest_due for d in await store.queue_depths(now=NOW) if d.oldest_due]

    assert oldest == [NOW - timedelta(minutes=5)]


async def test_heartbeat_writes_the_tally_and_none_keeps_it(store: Store) -> None:
    await register(store, "w1")
    await beat(store, "w1", tally_of(("mail", "email", "completed", 3)))
    await beat(store, "w1", None)

    [text] = await store.worker_tallies()

    assert Tally.from_json(text).finished == {("mail", "email", "completed"): 3}


async def test_pruned_workers_fold_into_totals_so_counts_never_drop(store: Store) -> None:
    for worker_id, count in (("w1", 3), ("w2", 4), ("w3", 5)):
        await register(store, worker_id)
        await beat(store, worker_id, tally_of(("mail", "email", "completed", count)))
    await beat(store, "w1", tally_of(("mail", "email", "completed", 3)), state="stopped")
    await beat(store, "w2", tally_of(("mail", "email", "failed", 4)), state="stopped")

    before = Tally.merged(list(await store.worker_tallies()))
    pruned = await store.prune_workers(before=NOW + timedelta(seconds=1))
    after = Tally.merged(list(await store.worker_tallies()))

    assert pruned == 2
    assert [w.id for w in await store.list_workers()] == ["w3"]
    assert (
        after.finished
        == before.finished
        == {
            ("mail", "email", "completed"): 8,
            ("mail", "email", "failed"): 4,
        }
    )
    # a second prune of nothing leaves the totals alone
    assert await store.prune_workers(before=NOW + timedelta(seconds=1)) == 0
    assert Tally.merged(list(await store.worker_tallies())).finished == after.finished
