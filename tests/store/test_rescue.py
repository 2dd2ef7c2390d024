"""Conformance: rescuing running jobs whose lease expired."""

from __future__ import annotations

from datetime import timedelta

from conveyor.job import JobState, Lease, Progress
from conveyor.store.base import Store
from tests.store.helpers import (
    NOW,
    TTL,
    WORKER,
    claim,
    complete,
    counts,
    fail,
    insert_and_claim,
    new_job,
)

EXPIRED = NOW + TTL + timedelta(seconds=1)


async def test_rescue_returns_job_with_expired_lease_to_available(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))

    rescued = await store.rescue_expired(now=EXPIRED, limit=10)

    assert rescued == [job.id]
    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.AVAILABLE
    assert stored.lease is None
    assert stored.lease_token is None
    assert stored.lease_expires_at is None
    assert stored.finished_at is None
    assert stored.attempt == 1
    assert stored.run_at == EXPIRED
    [lease_error] = stored.errors
    assert lease_error.type == "LeaseExpired"
    assert lease_error.attempt == 1
    assert lease_error.at == EXPIRED
    assert WORKER in lease_error.message


async def test_rescued_job_is_claimable_again_with_the_next_attempt(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    await store.rescue_expired(now=EXPIRED, limit=10)

    [again] = await claim(store, now=EXPIRED, worker_id="worker-2")

    assert again.id == job.id
    assert again.attempt == 2
    assert again.worker_id == "worker-2"
    assert again.lease_token != job.lease_token


async def test_rescue_leaves_unexpired_leases_alone(store: Store) -> None:
    [job] = await insert_and_claim(store)

    assert await store.rescue_expired(now=NOW + TTL - timedelta(seconds=1), limit=10) == []
    assert await store.get_job(job_id=job.id) == job


async def test_rescue_leaves_extended_leases_alone(store: Store) -> None:
    [job] = await insert_and_claim(store)
    assert job.lease is not None
    await store.extend_leases(leases=[job.lease], ttl=TTL, now=NOW + TTL / 2)

    assert await store.rescue_expired(now=EXPIRED, limit=10) == []
    assert (await store.get_job(job_id=job.id)).state is JobState.RUNNING


async def test_rescue_leaves_jobs_that_are_not_running_alone(store: Store) -> None:
    done, retrying, cancelled = await insert_and_claim(store, new_job(), new_job(), new_job())
    await store.ack_jobs(
        acks=[complete(done), fail(retrying, retry_at=NOW + timedelta(days=2))], now=NOW
    )
    await store.cancel_jobs(ids=[cancelled.id], now=NOW)
    await store.insert_jobs(jobs=[new_job(), new_job(run_at=NOW + timedelta(days=2))], now=NOW)
    before = await counts(store)

    assert await store.rescue_expired(now=NOW + timedelta(days=1), limit=10) == []
    assert await counts(store) == before


async def test_rescue_on_last_attempt_fails_the_job(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=1))

    assert await store.rescue_expired(now=EXPIRED, limit=10) == [job.id]

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.FAILED
    assert stored.finished_at == EXPIRED
    assert stored.lease is None
    assert [e.type for e in stored.errors] == ["LeaseExpired"]
    assert await claim(store, now=EXPIRED + timedelta(days=1)) == []


async def test_rescue_respects_limit(store: Store) -> None:
    jobs = await insert_and_claim(store, *(new_job() for _ in range(5)))

    first = await store.rescue_expired(now=EXPIRED, limit=2)
    second = await store.rescue_expired(now=EXPIRED, limit=2)
    third = await store.rescue_expired(now=EXPIRED, limit=2)

    assert [len(first), len(second), len(third)] == [2, 2, 1]
    assert sorted(first + second + third) == sorted(j.id for j in jobs)
    assert await store.rescue_expired(now=EXPIRED, limit=2) == []


async def test_rescue_takes_the_longest_expired_leases_first(store: Store) -> None:
    [older] = await insert_and_claim(store, now=NOW)
    [newer] = await insert_and_claim(store, now=NOW + timedelta(seconds=5))

    first = await store.rescue_expired(now=NOW + timedelta(hours=1), limit=1)

    assert first == [older.id]
    assert (await store.get_job(job_id=newer.id)).state is JobState.RUNNING


async def test_late_writes_of_the_rescued_worker_change_nothing(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    assert job.lease is not None
    await store.rescue_expired(now=EXPIRED, limit=10)
    [again] = await claim(store, now=EXPIRED, worker_id="worker-2")
    old = Lease(job.id, job.lease.token, job.lease.expires_at)

    outcome = await store.ack_jobs(acks=[complete(job, "late")], now=EXPIRED)
    lost = await store.extend_leases(leases=[old], ttl=TTL, now=EXPIRED)
    progressed = await store.save_progress(lease=old, progress=Progress(1, 1))
    checkpointed = await store.save_checkpoint(lease=old, checkpoint={"late": True})
    released = await store.release_jobs(leases=[old], now=EXPIRED)

    assert outcome.acked == []
    assert [le.job_id for le in outcome.lost] == [job.id]
    assert [le.job_id for le in lost] == [job.id]
    assert not progressed
    assert not checkpointed
    assert released == []
    assert await store.get_job(job_id=job.id) == again


async def test_late_ack_after_rescue_before_reclaim_changes_nothing(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    await store.rescue_expired(now=EXPIRED, limit=10)
    rescued = await store.get_job(job_id=job.id)

    outcome = await store.ack_jobs(acks=[complete(job, "late")], now=EXPIRED)

    assert outcome.acked == []
    assert await store.get_job(job_id=job.id) == rescued
