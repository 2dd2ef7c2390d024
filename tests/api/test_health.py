"""/health (alive) and /health/ready (database, migrations and, optionally, live workers)."""

from __future__ import annotations

from datetime import timedelta

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api._support import error_of
from tests.api.conftest import Api, MakeApi, client_for


async def test_health_answers_ok(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_is_fine(api: Api) -> None:
    response = await api.client.get("/health/ready")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["reasons"] == []
    store = await api.app.store()
    assert body["checks"] == {"database": "ok", "schema_version": store.expected_version}


async def test_ready_waits_for_a_live_worker_when_workers_are_expected(
    make_api: MakeApi,
) -> None:
    api = await make_api(expect_workers=True)

    alone = await api.client.get("/health/ready")
    assert alone.status_code == 503, alone.text
    assert alone.json()["status"] == "not ready"
    assert alone.json()["reasons"] == ["no live worker"]
    assert alone.json()["checks"]["database"] == "ok"
    assert alone.json()["checks"]["live_workers"] == 0

    store = await api.app.store()
    await store.register_worker(
        worker_id="bay-1:1",
        host="bay-1",
        pid=1,
        queues=None,
        concurrency=2,
        now=api.app.clock.now(),
    )
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["live_workers"] == 1
    assert ready.json()["reasons"] == []

    # a worker that stopped heart-beating long ago is not live
    api.clock.advance(timedelta(seconds=3 * api.app.settings.lease_ttl_seconds + 1))
    stale = await api.client.get("/health/ready")
    assert stale.status_code == 503, stale.text
    assert stale.json()["reasons"] == ["no live worker"]

    await store.heartbeat_worker(
        worker_id="bay-1:1",
        executors=2,
        running=0,
        completed=0,
        state="running",
        now=api.app.clock.now(),
    )
    assert (await api.client.get("/health/ready")).status_code == 200

    # a worker that stopped cleanly is not live either
    await store.heartbeat_worker(
        worker_id="bay-1:1",
        executors=2,
        running=0,
        completed=0,
        state="stopped",
        now=api.app.clock.now(),
    )
    assert (await api.client.get("/health/ready")).status_code == 503


async def test_workers_are_not_required_by_default(make_api: MakeApi) -> None:
    api = await make_api()
    response = await api.client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert "live_workers" not in response.json()["checks"]


async def test_ready_is_503_with_a_reason_when_the_database_is_unreachable() -> None:
    app = Conveyor("postgresql://postgres@127.0.0.1:1/x", api_token=None)
    client = client_for(create_api(app))
    try:
        alive = await client.get("/health")
        assert alive.status_code == 200, "the process answers even without its database"

        response = await client.get("/health/ready")

        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == "unreachable"
        [reason] = body["reasons"]
        assert "unreachable" in reason
        # the probe is often reachable from outside: no address, port or database name
        assert "127.0.0.1" not in reason and ":1" not in reason and "/x" not in reason

        jobs = await client.get("/api/jobs")
        assert error_of(jobs, 503, "store_unavailable") is None
    finally:
        await client.aclose()
        await app.close()
