"""The HTTP API through a real ASGI client: per-task endpoints, admin, auth, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import BaseModel, Field

from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.errors import ConfigurationError
from conveyor.testing import drain
from tests.contract import JOB_JSON_KEYS

READ = "reader:read:" + "r" * 20
ADMIN = "boss:admin:" + "a" * 20
AS_READER = {"Authorization": "Bearer " + "r" * 20}
AS_ADMIN = {"Authorization": "Bearer " + "a" * 20}
CONTRACT_KEYS = set(JOB_JSON_KEYS)


class Wash(BaseModel):
    customer_id: int = Field(ge=1)
    wash: str = Field(min_length=1)


async def wash(payload: Wash) -> dict[str, int]:
    return {"washed": payload.customer_id}


async def broken(payload: Wash) -> None:
    raise RuntimeError("pump failure")


def build(url: str, **settings: object) -> Conveyor:
    app = Conveyor(url, **settings)
    app.task(name="wash.start", queue="wash")(wash)
    app.task(name="wash.broken", max_attempts=1)(broken)
    return app


@pytest.fixture
async def app(store_url: str) -> AsyncIterator[Conveyor]:
    conveyor = build(store_url)
    yield conveyor
    await conveyor.close()


@pytest.fixture
async def client(app: Conveyor) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(app, max_body_bytes=2000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


async def test_each_task_has_an_endpoint_with_its_payload_schema(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/tasks/wash.start"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert set(model["properties"]) == {"customer_id", "wash"}
    assert "/api/tasks/wash.broken" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_enqueue_answers_202_with_the_job_and_its_location(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/tasks/wash.start", json={"customer_id": 7, "wash": "gold"})
    assert response.status_code == 202
    job = response.json()
    assert set(job) == CONTRACT_KEYS
    assert (job["task"], job["queue"], job["state"]) == ("wash.start", "wash", "available")
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    assert (await client.get(response.headers["location"])).json()["id"] == job["id"]


async def test_enqueue_options_and_idempotency_key(client: httpx.AsyncClient) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"customer_id": 1, "wash": "basic"}
    scheduled = await client.post(
        "/api/tasks/wash.start", params={"run_at": later, "priority": -5, "queue": "vip"}, json=body
    )
    job = scheduled.json()
    assert (job["state"], job["priority"], job["queue"]) == ("scheduled", -5, "vip")
    first = await client.post("/api/tasks/wash.start", json=body, headers={"Idempotency-Key": "k"})
    again = await client.post("/api/tasks/wash.start", json=body, headers={"Idempotency-Key": "k"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]


async def test_bad_input_gets_a_clear_4xx_never_a_500(client: httpx.AsyncClient) -> None:
    invalid = await client.post("/api/tasks/wash.start", json={"customer_id": 0})
    error = assert_error(invalid, 422, "invalid_request")
    locations = [tuple(d["loc"]) for d in error["details"]]  # type: ignore[attr-defined]
    assert ("body", "customer_id") in locations and ("body", "wash") in locations
    unknown = await client.post("/api/tasks/no.such.task", json={})
    error = assert_error(unknown, 404, "task_not_found")
    assert "wash.start" in error["details"]["known_tasks"]  # type: ignore[index]
    assert_error(await client.get("/api/jobs/424242"), 404, "job_not_found")
    assert_error(await client.get("/api/jobs", params={"state": "bogus"}), 422, "invalid_request")
    assert_error(await client.get("/api/jobs", params={"limit": 0}), 422, "invalid_request")
    naive = {"created_after": "2026-01-01T00:00:00"}
    assert_error(await client.get("/api/jobs", params=naive), 422, "invalid_request")
    assert_error(
        await client.post("/api/tasks/wash.start", content=b"{oops"), 422, "invalid_request"
    )


async def test_oversized_bodies_are_refused_with_413(client: httpx.AsyncClient) -> None:
    big = b'{"wash": "' + b"x" * 5000 + b'", "customer_id": 1}'
    assert_error(await client.post("/api/tasks/wash.start", content=big), 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"x" * 500

    streamed = await client.post("/api/tasks/wash.start", content=chunks())
    assert_error(streamed, 413, "payload_too_large")


async def test_admin_actions_cancel_retry_rerun_bulk_retry(
    app: Conveyor, client: httpx.AsyncClient
) -> None:
    done = (await client.post("/api/tasks/wash.start", json={"customer_id": 2, "wash": "a"})).json()
    failing = (
        await client.post("/api/tasks/wash.broken", json={"customer_id": 3, "wash": "a"})
    ).json()
    later = {"delay": 3600}
    waiting = (
        await client.post(
            "/api/tasks/wash.start", json={"customer_id": 4, "wash": "a"}, params=later
        )
    ).json()
    await drain(app)
    assert (await client.get(f"/api/jobs/{failing['id']}")).json()["state"] == "failed"

    assert (await client.post(f"/api/jobs/{waiting['id']}/cancel")).json()["state"] == "cancelled"
    assert_error(await client.post(f"/api/jobs/{done['id']}/cancel"), 409, "invalid_transition")
    rerun = await client.post(f"/api/jobs/{done['id']}/rerun")
    assert rerun.status_code == 201 and rerun.json()["rerun_of"] == done["id"]
    retried = await client.post("/api/jobs/retry-failed", json={"task": "wash.broken"})
    assert retried.json() == {"retried": 1}
    assert (await client.get(f"/api/jobs/{failing['id']}")).json()["state"] == "available"
    again = await client.post(f"/api/jobs/{waiting['id']}/retry")
    assert again.json()["state"] == "available"


async def test_listing_filters_and_keyset_pages(client: httpx.AsyncClient) -> None:
    ids = []
    for i in range(1, 8):
        created = await client.post("/api/tasks/wash.start", json={"customer_id": i, "wash": "a"})
        ids.append(created.json()["id"])
    seen: list[int] = []
    params: dict[str, object] = {"limit": 3, "task": "wash.start", "state": "available"}
    while True:
        page = (await client.get("/api/jobs", params=params)).json()
        seen += [job["id"] for job in page["jobs"]]
        if page["next_after"] is None:
            break
        params["after"] = page["next_after"]
    assert seen == sorted(ids, reverse=True)
    none = await client.get("/api/jobs", params={"queue": "nowhere"})
    assert none.json() == {"jobs": [], "next_after": None}


async def test_sweep_stats_workers_and_health(app: Conveyor, client: httpx.AsyncClient) -> None:
    await client.post("/api/tasks/wash.start", json={"customer_id": 1, "wash": "a"})
    store = await app.store()
    now = app.clock.now()
    [claimed] = await store.claim_jobs(
        queues=None, limit=1, lease_ttl=timedelta(seconds=-1), worker_id="gone", now=now
    )
    assert (await client.post("/api/sweep")).json() == {"rescued": [claimed.id]}
    stats = (await client.get("/api/stats")).json()
    assert stats["counts"]["by_state"] == {"available": 1}
    assert stats["oldest_waiting_seconds"] is not None
    await store.register_worker(
        worker_id="w1", host="h", pid=1, queues=None, concurrency=4, now=now
    )
    assert [w["id"] for w in (await client.get("/api/workers")).json()] == ["w1"]
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_roles_401_403_and_open_health(store_url: str) -> None:
    app = build(store_url, api_token=f"{READ},{ADMIN}")
    transport = httpx.ASGITransport(app=create_api(app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"customer_id": 1, "wash": "a"}
            assert (await client.get("/health")).status_code == 200
            missing = await client.get("/api/jobs")
            assert_error(missing, 401, "unauthorized")
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = {"Authorization": "Bearer " + "z" * 20}
            assert_error(await client.get("/api/jobs", headers=wrong), 401, "unauthorized")
            assert (await client.get("/api/jobs", headers=AS_READER)).status_code == 200
            denied = await client.post("/api/tasks/wash.start", json=body, headers=AS_READER)
            assert_error(denied, 403, "forbidden")
            assert_error(await client.post("/api/sweep", headers=AS_READER), 403, "forbidden")
            created = await client.post("/api/tasks/wash.start", json=body, headers=AS_ADMIN)
            assert created.status_code == 202
    finally:
        await app.close()


@pytest.mark.parametrize("spec", ["a:superuser:" + "x" * 20, "short", "a:b"])
def test_bad_token_settings_are_refused(sqlite_url: str, spec: str) -> None:
    with pytest.raises(ConfigurationError):
        create_api(build(sqlite_url, api_token=spec))


async def test_ready_is_503_with_a_reason_when_no_worker_is_alive(store_url: str) -> None:
    app = build(store_url)
    transport = httpx.ASGITransport(app=create_api(app, expect_workers=True))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/health/ready")
            assert response.status_code == 503
            assert response.json()["reasons"] == ["no live worker"]
    finally:
        await app.close()
