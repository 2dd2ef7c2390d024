"""Conformance: lease arithmetic on the database's clock. ``now=None`` asks the store to
take the time for a claim's lease, a lease extension and a rescue from the database (the
host's clock for SQLite, which runs on it), so that workers whose clocks disagree still
agree on which leases expired. Tests freeze time by passing ``now`` instead."""

from __future__ import annotations

from datetime import timedelta

from conveyor.job import JobState, Lease
from conveyor.store.base import Store
from tests.store.helpers import NOW, TTL, WORKER, insert, insert_and_claim, new_job

FAR_AHEAD = timedelta(days=3650)


def lease(job_id: int, token: str | None) -> Lease:
    assert token is not None
    return Lease(job_id, token, NOW)


async def test_a_claim_on_the_database_clock_leases_from_its_time(store: Store) -> None:
    [job] = await insert(store, new_job())  # due at NOW, long past by the database's clock

    [claimed] = await store.claim_jobs(
        queues=None, limit=10, lease_ttl=TTL, worker_id=WORKER, now=None
    )

    stored = await store.get_job(job_id=job.id)
    assert claimed.id == job.id and stored.state is JobState.RUNNING
    assert stored.started_at is not None and stored.started_at > NOW
    assert stored.lease_expires_at == stored.started_at + TTL
    # What the claim returns is what it wrote.
    assert claimed.started_at == stored.started_at
    assert claimed.lease_expires_at == stored.lease_expires_at


async def test_a_flow_claim_on_the_database_clock_leases_from_its_time(store: Store) -> None:
    flow = [
        new_job(concurrency_key="tenant-1", concurrency_limit=1),
        new_job(rate_key="smtp", rate_per_second=1.0, rate_burst=5.0),
    ]
    inserted = await insert(store, *flow)

    claimed = await store.claim_jobs(
        queues=None, limit=10, lease_ttl=TTL, worker_id=WORKER, now=None
    )

    assert sorted(j.id for j in claimed) == sorted(j.id for j in inserted)
    for job in claimed:
        stored = await store.get_job(job_id=job.id)
        assert stored.started_at is not None and stored.started_at > NOW
        assert stored.lease_expires_at == stored.started_at + TTL


async def test_a_lease_taken_on_the_database_clock_is_live_by_it(store: Store) -> None:
    await insert(store, new_job())
    [claimed] = await store.claim_jobs(
        queues=None, limit=1, lease_ttl=TTL, worker_id=WORKER, now=None
    )

    assert await store.rescue_expired(now=None, limit=10) == []
    # A caller that passes its own time decides by it (here: one far ahead).
    assert await store.rescue_expired(now=NOW + FAR_AHEAD, limit=10) == [claimed.id]


async def test_an_extension_on_the_database_clock_pushes_expiry_from_its_time(
    store: Store,
) -> None:
    [job] = await insert_and_claim(store, new_job())  # leased until NOW + TTL: long expired

    lost = await store.extend_leases(leases=[lease(job.id, job.lease_token)], ttl=TTL, now=None)

    assert lost == []
    stored = await store.get_job(job_id=job.id)
    assert stored.lease_expires_at is not None and stored.lease_expires_at > NOW + TTL
    assert await store.rescue_expired(now=None, limit=10) == []


async def test_an_extension_on_the_database_clock_is_fenced(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job())

    lost = await store.extend_leases(leases=[lease(job.id, "f" * 32)], ttl=TTL, now=None)

    assert [(item.job_id, item.token) for item in lost] == [(job.id, "f" * 32)]
    assert (await store.get_job(job_id=job.id)).lease_expires_at == NOW + TTL


async def test_a_rescue_on_the_database_clock_returns_leases_expired_by_it(store: Store) -> None:
    [job] = await insert_and_claim(store, new_job(max_attempts=3))  # expired at NOW + TTL

    assert await store.rescue_expired(now=None, limit=10) == [job.id]

    stored = await store.get_job(job_id=job.id)
    assert stored.state is JobState.AVAILABLE and stored.lease is None
    [lease_error] = stored.errors
    assert lease_error.type == "LeaseExpired" and WORKER in lease_error.message
    assert lease_error.at > NOW + TTL
    assert stored.run_at == lease_error.at
