"""Conformance: heart-beats, fenced progress and checkpoints, and releasing held jobs."""

from __future__ import annotations

from datetime import timedelta

from conveyor.job import Job, JobState, Lease, Progress
from conveyor.store.base import Store
from tests.store.helpers import NOW, TTL, claim, complete, fail, insert_and_claim, new_job

LATER = NOW + timedelta(seconds=20)
STALE = "f" * 32


def lease_of(job: Job, token: str | None = None) -> Lease:
    assert job.lease is not None
    return Lease(job.id, token or job.lease.token, job.lease.expires_at)


async def test_extend_leases_pushes_expiry_of_held_leases(store: Store) -> None:
    a, b = await insert_and_claim(store, new_job(), new_job())

    lost = await store.extend_leases(
        leases=[lease_of(a), lease_of(b)], ttl=timedelta(minutes=2), now=LATER
    )

    assert lost == []
    for job in (a, b):
        stored = await store.get_job(job_id=job.id)
        assert stored.lease_expires_at == LATER + timedelta(minutes=2)
        assert stored.lease_token == job.lease_token
        assert stored.state is JobState.RUNNING


async def test_extend_leases_of_empty_batch_returns_nothing(store: Store) -> None:
    assert await store.extend_leases(leases=[], ttl=TTL, now=LATER) == []


async def test_extend_leases_reports_stale_tokens_and_extends_the_rest(store: Store) -> None:
    held, stolen = await insert_and_claim(store, new_job(), new_job())

    lost = await store.extend_leases(
        leases=[lease_of(held), lease_of(stolen, STALE)], ttl=TTL, now=LATER
    )

    assert [(le.job_id, le.token) for le in lost] == [(stolen.id, STALE)]
    assert (await store.get_job(job_id=held.id)).lease_expires_at == LATER + TTL
    assert await store.get_job(job_id=stolen.id) == stolen


async def test_extend_leases_reports_cancelled_and_finished_jobs_as_lost(store: Store) -> None:
    cancelled, finished = await insert_and_claim(store, new_job(), new_job())
    await store.cancel_jobs(ids=[cancelled.id], now=LATER)
    await store.ack_jobs(acks=[complete(finished)], now=LATER)

    lost = await store.extend_leases(
        leases=[lease_of(cancelled), lease_of(finished)], ttl=TTL, now=LATER
    )

    assert sorted(le.job_id for le in lost) == sorted([cancelled.id, finished.id])
    assert (await store.get_job(job_id=cancelled.id)).lease is None
    assert (await store.get_job(job_id=finished.id)).lease is None


async def test_save_progress_with_current_lease_is_stored(store: Store) -> None:
    [job] = await insert_and_claim(store)

    assert await store.save_progress(lease=lease_of(job), progress=Progress(3, 10))
    assert (await store.get_job(job_id=job.id)).progress == Progress(3, 10)
    assert await store.save_progress(lease=lease_of(job), progress=Progress(7))
    assert (await store.get_job(job_id=job.id)).progress == Progress(7, None)


async def test_save_progress_with_stale_token_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)
    await store.save_progress(lease=lease_of(job), progress=Progress(1, 10))

    assert not await store.save_progress(lease=lease_of(job, STALE), progress=Progress(9, 10))
    assert (await store.get_job(job_id=job.id)).progress == Progress(1, 10)


async def test_save_progress_after_cancellation_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)
    await store.cancel_jobs(ids=[job.id], now=LATER)

    assert not await store.save_progress(lease=lease_of(job), progress=Progress(1))
    assert (await store.get_job(job_id=job.id)).progress is None


async def test_save_checkpoint_with_current_lease_roundtrips(store: Store) -> None:
    [job] = await insert_and_claim(store)
    checkpoints: list[object] = [{"cursor": "abc", "done": [1, 2]}, [1, 2], "page-7", 12, None]

    for checkpoint in checkpoints:
        assert await store.save_checkpoint(lease=lease_of(job), checkpoint=checkpoint)
        stored = await store.get_job(job_id=job.id)
        assert stored.checkpoint == checkpoint
        assert type(stored.checkpoint) is type(checkpoint)


async def test_save_checkpoint_with_stale_token_is_rejected(store: Store) -> None:
    [job] = await insert_and_claim(store)
    await store.save_checkpoint(lease=lease_of(job), checkpoint={"page": 1})

    assert not await store.save_checkpoint(lease=lease_of(job, STALE), checkpoint={"page": 9})
    assert (await store.get_job(job_id=job.id)).checkpoint == {"page": 1}


async def test_checkpoint_and_progress_survive_a_retry(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))
    await store.save_checkpoint(lease=lease_of(job), checkpoint={"page": 4})
    await store.save_progress(lease=lease_of(job), progress=Progress(4, 10))
    await store.release_jobs(leases=[lease_of(job)], now=LATER)

    [again] = await claim(store, now=LATER)

    assert again.id == job.id
    assert again.checkpoint == {"page": 4}
    assert again.progress == Progress(4, 10)


async def test_release_returns_running_jobs_to_available_without_counting_the_attempt(
    store: Store,
) -> None:
    a, b = await insert_and_claim(store, new_job(), new_job())

    released = await store.release_jobs(leases=[lease_of(a), lease_of(b)], now=LATER)

    assert released == sorted([a.id, b.id])
    for job in (a, b):
        stored = await store.get_job(job_id=job.id)
        assert stored.state is JobState.AVAILABLE
        assert stored.attempt == 0
        assert stored.lease is None
        assert stored.run_at == LATER
        assert stored.finished_at is None
        assert stored.errors == ()
    reclaimed = await claim(store, now=LATER)
    assert sorted(j.id for j in reclaimed) == sorted([a.id, b.id])
    assert {j.attempt for j in reclaimed} == {1}


async def test_release_restores_the_previous_attempt_of_a_retried_job(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=5))
    await store.ack_jobs(acks=[fail(job, retry_at=NOW)], now=NOW)
    [second] = await claim(store)
    assert second.attempt == 2

    await store.release_jobs(leases=[lease_of(second)], now=LATER)

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.AVAILABLE
    assert stored.attempt == 1
    assert [e.attempt for e in stored.errors] == [1]


async def test_release_ignores_stale_tokens(store: Store) -> None:
    held, stolen = await insert_and_claim(store, new_job(), new_job())

    released = await store.release_jobs(leases=[lease_of(held), lease_of(stolen, STALE)], now=LATER)

    assert released == [held.id]
    assert await store.get_job(job_id=stolen.id) == stolen


async def test_release_of_empty_batch_returns_nothing(store: Store) -> None:
    assert await store.release_jobs(leases=[], now=LATER) == []


async def test_released_job_old_lease_can_no_longer_ack(store: Store) -> None:
    [job] = await insert_and_claim(store)
    await store.release_jobs(leases=[lease_of(job)], now=LATER)

    outcome = await store.ack_jobs(acks=[complete(job)], now=LATER)

    assert outcome.acked == []
    assert (await store.get_job(job_id=job.id)).state is JobState.AVAILABLE
