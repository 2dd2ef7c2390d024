"""Schedule endpoints: CRUD, pause/resume, trigger, errors and roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.testing import drain
from tests.api._support import JOB_KEYS, error_of
from tests.api.conftest import START, Api, MakeApi
from tests.api.test_auth import AS_ADMIN, AS_READER, TOKENS

NIGHTLY = {"name": "nightly", "task": "wash", "cron": "0 2 * * *", "payload": {"plate": "N1"}}


async def test_create_list_show_update_delete(api: Api) -> None:
    created = await api.client.post("/api/schedules", json=NIGHTLY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "nightly" and body["source"] == "runtime"
    assert body["payload"] == {"plate": "N1", "level": 1, "extras": []}
    assert body["next_fire_at"] == datetime(2026, 1, 2, 2, 0, tzinfo=UTC).isoformat()

    listed = (await api.client.get("/api/schedules")).json()["schedules"]
    assert [s["name"] for s in listed] == ["nightly"]
    shown = await api.client.get("/api/schedules/nightly")
    assert shown.json() == body

    patched = await api.client.patch(
        "/api/schedules/nightly", json={"cron": "30 4 * * *", "timezone": "Asia/Tokyo"}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["cron"], patched.json()["timezone"]) == ("30 4 * * *", "Asia/Tokyo")
    assert patched.json()["payload"] == body["payload"], "unchanged fields are kept"

    interval = await api.client.patch("/api/schedules/nightly", json={"every_seconds": 90})
    assert (interval.json()["cron"], interval.json()["every_seconds"]) == (None, 90.0)

    deleted = await api.client.delete("/api/schedules/nightly")
    assert deleted.status_code == 204
    error_of(await api.client.get("/api/schedules/nightly"), 404, "schedule_not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "0 24 * * *"}, "cron"),
        ({"cron": "every day"}, "cron"),
        ({"timezone": "Mars/Base"}, "timezone"),
    ],
)
async def test_invalid_cron_or_zone_answers_422_naming_the_field(
    api: Api, change: dict[str, str], field: str
) -> None:
    details = error_of(
        await api.client.post("/api/schedules", json={**NIGHTLY, **change}),
        422,
        "schedule_invalid",
    )
    assert details == {"field": field}
    await api.client.post("/api/schedules", json=NIGHTLY)
    details = error_of(
        await api.client.patch("/api/schedules/nightly", json=change), 422, "schedule_invalid"
    )
    assert details == {"field": field}


async def test_bad_requests_answer_the_house_errors(api: Api) -> None:
    both = {**NIGHTLY, "every_seconds": 60}
    assert error_of(await api.client.post("/api/schedules", json=both), 422)["field"] == "cron"
    error_of(await api.client.post("/api/schedules", json={**NIGHTLY, "payload": {}}), 422)
    error_of(await api.client.post("/api/schedules", json={**NIGHTLY, "task": "no"}), 404)
    error_of(await api.client.post("/api/schedules", json={**NIGHTLY, "name": "a b"}), 422)
    error_of(await api.client.post("/api/schedules", json={**NIGHTLY, "catch_up": "x"}), 422)
    await api.client.post("/api/schedules", json=NIGHTLY)
    error_of(await api.client.post("/api/schedules", json=NIGHTLY), 409, "schedule_exists")
    error_of(await api.client.post("/api/schedules/missing/pause"), 404, "schedule_not_found")


async def test_pause_resume_and_trigger(api: Api) -> None:
    await api.client.post("/api/schedules", json=NIGHTLY)
    paused = (await api.client.post("/api/schedules/nightly/pause")).json()
    assert paused["paused"] is True and paused["next_fire_at"] is None
    resumed = (await api.client.post("/api/schedules/nightly/resume")).json()
    assert resumed["paused"] is False and resumed["next_fire_at"] is not None

    triggered = await api.client.post("/api/schedules/nightly/trigger")
    assert triggered.status_code == 201, triggered.text
    [job] = triggered.json()["jobs"]
    assert set(job) == JOB_KEYS
    assert job["schedule"] == {"name": "nightly", "fire_at": START.isoformat(), "tenant": None}
    await drain(api.app)
    shown = (await api.client.get("/api/schedules/nightly")).json()
    assert (shown["last_job_id"], shown["last_job_state"]) == (job["id"], "completed")


async def test_reads_need_a_read_token_and_changes_an_admin_token(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    assert (await api.client.get("/api/schedules")).status_code == 401
    forbidden = await api.client.post("/api/schedules", json=NIGHTLY, headers=AS_READER)
    error_of(forbidden, 403)
    made = await api.client.post("/api/schedules", json=NIGHTLY, headers=AS_ADMIN)
    assert made.status_code == 201
    assert (await api.client.get("/api/schedules", headers=AS_READER)).status_code == 200
    for path in ("pause", "resume", "trigger"):
        error_of(await api.client.post(f"/api/schedules/nightly/{path}", headers=AS_READER), 403)
    error_of(await api.client.delete("/api/schedules/nightly", headers=AS_READER), 403)
