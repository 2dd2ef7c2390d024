"""app.explain: the reason a job is not running, for each situation (both stores)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pydantic
import pytest

from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.clock import FrozenClock
from conveyor.job import JobError
from conveyor.store.base import Completion, Failure, Store

TTL = timedelta(seconds=30)


class Work(pydantic.BaseModel):
    tenant: int = 1


@pytest.fixture
async def store(app: Conveyor) -> Store:
    @app.task(name="plain", queue="default")
    async def plain(payload: Work) -> None: ...

    @app.task(name="sync", concurrency_key=lambda p: p.tenant, concurrency_limit=1)
    async def sync(payload: Work) -> None: ...

    @app.task(name="mail", rate_limit="1/m")
    async def mail(payload: Work) -> None: ...

    return await app.store()


async def live_worker(app: Conveyor, store: Store, worker_id: str = "w1", **kw: object) -> None:
    await store.register_worker(
        worker_id=worker_id,
        host="box",
        pid=1,
        queues=kw.get("queues"),  # type: ignore[arg-type]
        concurrency=4,
        now=app.clock.now(),
    )


async def claim(app: Conveyor, store: Store, worker_id: str = "w1") -> list[int]:
    jobs = await store.claim_jobs(
        queues=None, limit=1, lease_ttl=TTL, worker_id=worker_id, now=app.clock.now()
    )
    return [j.id for j in jobs]


async def test_a_job_scheduled_for_later(app: Conveyor, store: Store) -> None:
    job = await app.enqueue("plain", Work(), delay=60)

    why = await app.explain(job.id)

    assert (why.reason, why.until) == ("scheduled", job.run_at)


async def test_a_job_backing_off_after_a_failed_attempt(app: Conveyor, store: Store) -> None:
    await live_worker(app, store)
    job = await app.enqueue("plain", Work())
    claimed = await store.get_job(job_id=(await claim(app, store))[0])
    retry_at = app.clock.now() + timedelta(seconds=90)
    error = JobError(1, "SMTPError", "421 try later", "", app.clock.now())
    await store.ack_jobs(
        acks=[Failure(job.id, claimed.lease_token or "", error, retry_at)], now=app.clock.now()
    )

    why = await app.explain(job.id)

    assert (why.reason, why.until, why.details["attempt"]) == ("backing_off", retry_at, 1)
    assert "421 try later" in why.message


async def test_no_live_worker_serves_the_queue(
    app: Conveyor, store: Store, clock: FrozenClock
) -> None:
    job = await app.enqueue("plain", Work())
    nobody = await app.explain(job.id)
    await live_worker(app, store, "other", queues=["email"])
    wrong_queue = await app.explain(job.id)
    await live_worker(app, store, "gone")
    clock.advance(TTL * 3)  # "gone" stopped heart-beating
    silent = await app.explain(job.id)

    assert [nobody.reason, wrong_queue.reason, silent.reason] == ["no_worker"] * 3


async def test_a_job_in_a_paused_queue(app: Conveyor, store: Store) -> None:
    await live_worker(app, store)
    job = await app.enqueue("plain", Work())
    await app.pause_queue("default")

    paused = await app.explain(job.id)
    await app.resume_queue("default")
    resumed = await app.explain(job.id)

    assert (paused.reason, paused.details["queue"]) == ("paused", "default")
    assert resumed.reason == "ready"


async def test_a_job_blocked_by_its_concurrency_key_names_the_blocker(
    app: Conveyor, store: Store
) -> None:
    await live_worker(app, store)
    first = await app.enqueue("sync", Work(tenant=7))
    second = await app.enqueue("sync", Work(tenant=7))
    assert await claim(app, store) == [first.id]

    why = await app.explain(second.id)

    assert why.reason == "concurrency"
    assert why.details == {"key": "sync:7", "limit": 1, "blocked_by": [first.id]}


async def test_a_job_waiting_for_a_rate_limit_token(app: Conveyor, store: Store) -> None:
    await live_worker(app, store)
    first = await app.enqueue("mail", Work())
    second = await app.enqueue("mail", Work())
    assert await claim(app, store) == [first.id]

    why = await app.explain(second.id)

    assert why.reason == "rate_limit"
    assert why.until == app.clock.now() + timedelta(seconds=60)


async def test_ready_running_stale_and_finished(
    app: Conveyor, store: Store, clock: FrozenClock
) -> None:
    await live_worker(app, store)
    job = await app.enqueue("plain", Work())
    ready = await app.explain(job.id)
    await claim(app, store)
    running = await app.explain(job.id)
    clock.advance(TTL * 3)  # the worker went silent and the lease ran out
    stale = await app.explain(job.id)
    lease = (await app.get_job(job.id)).lease_token or ""
    await store.ack_jobs(acks=[Completion(job.id, lease)], now=clock.now())
    finished = await app.explain(job.id)

    assert [ready.reason, running.reason, stale.reason, finished.reason] == [
        "ready",
        "running",
        "stale_lease",
        "finished",
    ]
    assert stale.details == {"worker_id": "w1"}


async def test_the_job_api_explains_on_request(app: Conveyor, store: Store) -> None:
    job = await app.enqueue("plain", Work(), delay=60)
    http = create_api(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=http), base_url="http://test"
    ) as client:
        plain = (await client.get(f"/api/jobs/{job.id}")).json()
        explained = (await client.get(f"/api/jobs/{job.id}?explain=true")).json()

    assert "explain" not in plain
    assert explained["explain"]["reason"] == "scheduled"
    assert explained["explain"]["until"] == job.run_at.isoformat()
    assert {k: v for k, v in explained.items() if k != "explain"} == plain
