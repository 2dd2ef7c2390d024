"""The generated per-task enqueue endpoints, their OpenAPI schemas, and GET /api/tasks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api._support import JOB_KEYS, TASK_NAMES, Boom, Notify, Wash, enqueue, error_of
from tests.api.conftest import START, Api, MakeApi, client_for


class Polish(pydantic.BaseModel):
    shine: int
    wax: bool = False


async def polish(payload: Polish) -> None:
    """Polish one car."""


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


# -- OpenAPI ---------------------------------------------------------------------------------


async def test_every_task_has_an_enqueue_operation_with_its_payload_schema(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()

    models = {"wash": Wash, "notify": Notify, "explode": Boom, "jam": Boom}
    for name, model in models.items():
        operation = document["paths"][f"/api/tasks/{name}"]["post"]
        body = operation["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}
        component = _resolve(document, schema)
        assert set(component["properties"]) == set(model.model_fields)
        assert set(component.get("required", [])) == {
            field for field, info in model.model_fields.items() if info.is_required()
        }
        assert {"202", "200", "422"} <= set(operation["responses"])
        parameters = {p["name"]: p["in"] for p in operation["parameters"]}
        assert parameters == {
            "run_at": "query",
            "delay": "query",
            "priority": "query",
            "queue": "query",
            "Idempotency-Key": "header",
        }

    wash_schema = document["components"]["schemas"]["Wash"]["properties"]
    assert wash_schema["plate"]["minLength"] == 1
    assert wash_schema["level"]["maximum"] == 3
    # the catch-all that answers 404 for unknown tasks is not an operation
    assert "/api/tasks/{task_name}" not in document["paths"]
    assert {p for p in document["paths"] if p.startswith("/api/tasks/")} == {
        f"/api/tasks/{name}" for name in TASK_NAMES
    }


async def test_a_task_registered_before_create_api_gets_its_endpoint(store_url: str) -> None:
    app = Conveyor(store_url, api_token=None)
    app.task(name="polish", queue="detail")(polish)
    client = client_for(create_api(app))
    try:
        document = (await client.get("/openapi.json")).json()
        operation = document["paths"]["/api/tasks/polish"]["post"]
        schema = _resolve(
            document, operation["requestBody"]["content"]["application/json"]["schema"]
        )
        assert set(schema["properties"]) == {"shine", "wax"}
        assert schema["required"] == ["shine"]
        assert operation["summary"] == "Enqueue polish"
        assert "Polish one car." in operation["description"]

        response = await client.post("/api/tasks/polish", json={"shine": 4})
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["task"] == "polish"
        assert job["queue"] == "detail"
        assert job["payload"] == {"shine": 4, "wax": False}
    finally:
        await client.aclose()
        await app.close()


# -- enqueue ---------------------------------------------------------------------------------


async def test_enqueue_answers_202_with_the_job_and_its_location(api: Api) -> None:
    response = await api.client.post("/api/tasks/wash", json={"plate": "AB-123"})

    assert response.status_code == 202, response.text
    job = response.json()
    assert set(job) == JOB_KEYS
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["task"] == "wash"
    assert job["queue"] == "washes"
    assert job["state"] == "available"
    assert job["payload"] == {"plate": "AB-123", "level": 1, "extras": []}
    assert job["priority"] == 0
    assert job["attempt"] == 0
    assert job["max_attempts"] == 3
    assert datetime.fromisoformat(job["run_at"]) == START
    assert datetime.fromisoformat(job["created_at"]) == START
    assert job["started_at"] is None
    assert job["finished_at"] is None
    assert job["errors"] == []
    assert job["idempotency_key"] is None
    assert job["rerun_of"] is None

    stored = await api.app.get_job(job["id"])
    assert stored.to_json() == job
    again = await api.client.get(response.headers["location"])
    assert again.status_code == 200
    assert again.json() == job


async def test_run_at_with_an_offset_schedules_the_job(api: Api) -> None:
    later = (START + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    response = await api.client.post(
        "/api/tasks/wash", params={"run_at": later.isoformat()}, json={"plate": "A"}
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] == "scheduled"
    assert datetime.fromisoformat(job["run_at"]) == START + timedelta(hours=1)


async def test_delay_priority_and_queue_land_on_the_job(api: Api) -> None:
    response = await api.client.post(
        "/api/tasks/wash",
        params={"delay": "90", "priority": "-4", "queue": "express"},
        json={"plate": "A"},
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] == "scheduled"
    assert datetime.fromisoformat(job["run_at"]) == START + timedelta(seconds=90)
    assert job["priority"] == -4
    assert job["queue"] == "express"
    stored = await api.app.get_job(job["id"])
    assert (stored.queue, stored.priority) == ("express", -4)


async def test_the_task_defaults_apply_without_query_options(api: Api) -> None:
    response = await api.client.post("/api/tasks/notify", json={"message": "hi"})

    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["queue"], job["priority"], job["state"]) == ("mail", 5, "available")


async def test_bad_query_options_answer_422(api: Api) -> None:
    soon = (START + timedelta(minutes=5)).isoformat()
    cases: list[tuple[dict[str, str], str]] = [
        ({"run_at": soon, "delay": "5"}, "invalid_argument"),  # both
        ({"run_at": "2026-01-01T13:00:00"}, "invalid_argument"),  # naive
        ({"run_at": "tomorrow"}, "invalid_request"),
        ({"delay": "-1"}, "invalid_request"),
        ({"priority": "high"}, "invalid_request"),
        ({"queue": ""}, "invalid_request"),
    ]
    for params, code in cases:
        response = await api.client.post("/api/tasks/wash", params=params, json={"plate": "A"})
        error_of(response, 422, code)
    assert (await api.app.list_jobs()).jobs == [], "nothing is enqueued on a bad request"


async def test_values_the_database_cannot_hold_answer_422_not_500(api: Api) -> None:
    cases: list[tuple[dict[str, str], dict[str, Any], list[Any]]] = [
        # aware times that exist, but not in UTC: past year 9999 or before year 1 there
        ({"run_at": "9999-12-31T23:59:59-23:59"}, {"plate": "A"}, ["query", "run_at"]),
        ({"run_at": "0001-01-01T00:00:00+23:59"}, {"plate": "A"}, ["query", "run_at"]),
        # NUL: PostgreSQL text and jsonb cannot store it, SQLite truncates at it
        ({"queue": "a\x00b"}, {"plate": "A"}, ["query", "queue"]),
        ({}, {"plate": "A\x00"}, ["body", "plate"]),
        ({}, {"plate": "A", "extras": ["ok", "w\x00x"]}, ["body", "extras", 1]),
    ]
    for params, payload, loc in cases:
        response = await api.client.post("/api/tasks/wash", params=params, json=payload)
        details = error_of(response, 422, "invalid_request")
        assert [d["loc"] for d in details] == [loc], details
    assert (await api.app.list_jobs()).jobs == []

    edges = [("9999-12-31T23:59:59+00:00", "scheduled"), ("0001-01-01T00:00:00+00:00", "available")]
    for run_at, state in edges:
        job = await enqueue(api.client, "wash", {"plate": "A"}, params={"run_at": run_at})
        assert job["state"] == state
        assert datetime.fromisoformat(job["run_at"]) == datetime.fromisoformat(run_at)


async def test_the_same_idempotency_key_returns_the_same_job_with_200(api: Api) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.client.post("/api/tasks/wash", json={"plate": "A"}, headers=headers)
    second = await api.client.post("/api/tasks/wash", json={"plate": "B"}, headers=headers)
    other = await api.client.post(
        "/api/tasks/wash", json={"plate": "A"}, headers={"Idempotency-Key": "order-43"}
    )

    assert first.status_code == 202, first.text
    assert second.status_code == 200, second.text
    assert other.status_code == 202, other.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["payload"]["plate"] == "A", "the first job is kept"
    assert second.json()["idempotency_key"] == "order-42"
    assert second.headers["location"] == f"/api/jobs/{first.json()['id']}"
    assert other.json()["id"] != first.json()["id"]
    assert len((await api.app.list_jobs()).jobs) == 2


async def test_an_invalid_payload_answers_422_listing_the_fields(api: Api) -> None:
    response = await api.client.post(
        "/api/tasks/wash", json={"plate": "", "level": 9, "extras": "wax"}
    )

    details = error_of(response, 422)
    assert response.json()["error"]["code"] in {"invalid_request", "payload_invalid"}
    assert isinstance(details, list)
    locs = [tuple(d["loc"]) for d in details]
    assert {loc[-1] for loc in locs} == {"plate", "level", "extras"}
    assert all(isinstance(d["msg"], str) and d["msg"] for d in details)
    message = response.json()["error"]["message"]
    for field in ("plate", "level", "extras"):
        assert field in message
    assert (await api.app.list_jobs()).jobs == []


async def test_a_missing_or_malformed_body_answers_422(api: Api) -> None:
    missing = await api.client.post("/api/tasks/wash")
    error_of(missing, 422)
    required = await api.client.post("/api/tasks/wash", json={})
    assert [d["loc"][-1] for d in error_of(required, 422)] == ["plate"]
    malformed = await api.client.post(
        "/api/tasks/wash", content=b"{not json", headers={"content-type": "application/json"}
    )
    error_of(malformed, 422)
    not_an_object = await api.client.post("/api/tasks/wash", json=[1, 2])
    error_of(not_an_object, 422)


async def test_an_unknown_task_answers_404_listing_the_known_tasks(api: Api) -> None:
    response = await api.client.post("/api/tasks/vacuum", json={"plate": "A"})

    details = error_of(response, 404, "task_not_found")
    assert details == {"task": "vacuum", "known_tasks": TASK_NAMES}
    assert "vacuum" in response.json()["error"]["message"]


async def test_get_tasks_lists_the_task_types_with_their_schemas(api: Api) -> None:
    response = await api.client.get("/api/tasks")

    assert response.status_code == 200
    tasks = response.json()
    assert [t["name"] for t in tasks] == TASK_NAMES
    by_name = {t["name"]: t for t in tasks}
    assert by_name["wash"] == {
        "name": "wash",
        "queue": "washes",
        "max_attempts": 3,
        "timeout": None,
        "schema": Wash.model_json_schema(),
    }
    assert by_name["notify"]["schema"] == Notify.model_json_schema()
    assert by_name["explode"]["max_attempts"] == 1
    assert by_name["explode"]["schema"]["properties"]["reason"]["default"] == "boom"


# -- body limit ------------------------------------------------------------------------------


def _big_payload() -> bytes:
    body = json.dumps({"plate": "A", "extras": ["x" * 4_990]}).encode()
    assert len(body) > 5_000
    return body


async def test_a_body_over_the_limit_with_content_length_answers_413(make_api: MakeApi) -> None:
    api = await make_api(max_body_bytes=1000)
    response = await api.client.post(
        "/api/tasks/wash", content=_big_payload(), headers={"content-type": "application/json"}
    )

    assert response.request.headers["content-length"] == str(len(_big_payload()))
    error_of(response, 413, "payload_too_large")
    assert (await api.app.list_jobs()).jobs == []


async def test_a_streamed_body_over_the_limit_answers_413(make_api: MakeApi) -> None:
    api = await make_api(max_body_bytes=1000)
    body = _big_payload()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    response = await api.client.post(
        "/api/tasks/wash", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    error_of(response, 413, "payload_too_large")
    assert (await api.app.list_jobs()).jobs == []


async def test_bodies_within_the_limit_pass_streamed_or_not(make_api: MakeApi) -> None:
    api = await make_api(max_body_bytes=1000)
    body = json.dumps({"plate": "A", "extras": ["x" * 500]}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:300]
        yield body[300:]

    headers = {"content-type": "application/json"}
    plain = await api.client.post("/api/tasks/wash", content=body, headers=headers)
    streamed = await api.client.post("/api/tasks/wash", content=chunks(), headers=headers)

    assert plain.status_code == 202, plain.text
    assert streamed.status_code == 202, streamed.text
    assert streamed.json()["payload"]["extras"] == ["x" * 500]
