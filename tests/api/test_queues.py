"""The queue endpoints: list, pause, resume — values, errors and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.testing import drain
from tests.api._support import enqueue, error_of
from tests.api.conftest import START, Api, MakeApi
from tests.api.test_auth import AS_ADMIN, AS_READER, TOKENS

QUEUE_KEYS = {"name", "paused", "paused_at", "counts", "oldest_waiting_seconds"}
COUNT_KEYS = {"available", "scheduled", "running", "retrying", "failed"}


async def _queues(api: Api, headers: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    response = await api.client.get("/api/queues", headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    for queue in listed:
        assert set(queue) == QUEUE_KEYS and set(queue["counts"]) == COUNT_KEYS, queue
    assert [q["name"] for q in listed] == sorted(q["name"] for q in listed)
    return {queue["name"]: queue for queue in listed}


async def test_list_shows_the_tasks_queues_with_their_counts(api: Api) -> None:
    assert set(await _queues(api)) == {"default", "mail", "washes"}

    await enqueue(api.client, "wash", {"plate": "A"})
    await enqueue(api.client, "wash", {"plate": "B"}, params={"delay": "60"})
    await enqueue(api.client, "explode", {})
    await drain(api.app, queues=["default"])
    api.clock.advance(timedelta(seconds=90))

    queues = await _queues(api)
    assert queues["washes"]["counts"] == {
        "available": 1,
        "scheduled": 1,
        "running": 0,
        "retrying": 0,
        "failed": 0,
    }
    # both washes are due now; the first has waited 90 s
    assert queues["washes"]["oldest_waiting_seconds"] == 90.0
    assert queues["default"]["counts"]["failed"] == 1
    assert queues["default"]["oldest_waiting_seconds"] is None
    assert queues["mail"]["paused"] is False and queues["mail"]["paused_at"] is None


async def test_a_paused_queue_accepts_jobs_and_runs_them_after_resume(api: Api) -> None:
    paused = await api.client.post("/api/queues/washes/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert paused.json()["paused_at"] == START.isoformat()

    job = await enqueue(api.client, "wash", {"plate": "A"})
    other = await enqueue(api.client, "notify", {"message": "hi"})
    assert await drain(api.app) == 1
    assert (await api.client.get(f"/api/jobs/{other['id']}")).json()["state"] == "completed"
    assert (await api.client.get(f"/api/jobs/{job['id']}")).json()["state"] == "available"
    washes = (await _queues(api))["washes"]
    assert washes["paused"] is True and washes["counts"]["available"] == 1

    resumed = await api.client.post("/api/queues/washes/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["paused"] is False and resumed.json()["paused_at"] is None
    assert await drain(api.app) == 1
    assert (await api.client.get(f"/api/jobs/{job['id']}")).json()["state"] == "completed"


async def test_pause_and_resume_are_idempotent_and_take_any_name(api: Api) -> None:
    for _ in range(2):
        response = await api.client.post("/api/queues/not-yet-used/pause")
        assert response.status_code == 200, response.text
        assert response.json()["paused_at"] == START.isoformat()
        api.clock.advance(timedelta(minutes=1))
    for _ in range(2):
        response = await api.client.post("/api/queues/not-yet-used/resume")
        assert response.status_code == 200, response.text
        assert response.json()["paused"] is False
    assert (await _queues(api))["not-yet-used"]["paused"] is False


async def test_bad_queue_names_answer_422(api: Api) -> None:
    for path in ("/api/queues/a%00b/pause", f"/api/queues/{'q' * 256}/resume"):
        error_of(await api.client.post(path), 422, "invalid_request")
    error_of(await api.client.get("/api/queues/washes/pause"), 405)
    error_of(await api.client.post("/api/queues//pause"), 404)


async def test_roles_read_may_list_admin_may_pause_and_resume(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    client = api.client
    error_of(await client.get("/api/queues"), 401, "unauthorized")
    for action in ("pause", "resume"):
        error_of(await client.post(f"/api/queues/washes/{action}"), 401, "unauthorized")
        error_of(
            await client.post(f"/api/queues/washes/{action}", headers=AS_READER), 403, "forbidden"
        )
    assert (await _queues(api, AS_READER))["washes"]["paused"] is False, "nothing changed"

    paused = await client.post("/api/queues/washes/pause", headers=AS_ADMIN)
    assert paused.status_code == 200, paused.text
    assert (await _queues(api, AS_READER))["washes"]["paused"] is True
    resumed = await client.post("/api/queues/washes/resume", headers=AS_ADMIN)
    assert resumed.status_code == 200, resumed.text
    assert (await _queues(api, AS_ADMIN))["washes"]["paused"] is False
