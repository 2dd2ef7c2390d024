"""The admin endpoints: list with filters and keyset pages, show, cancel, retry, rerun,
bulk retry, sweep, stats and workers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor.testing import drain
from tests.api._support import JOB_KEYS, enqueue, error_of
from tests.api.conftest import START, Api

PLUS_5 = timezone(timedelta(hours=5))
MINUS_3 = timezone(timedelta(hours=-3))


def _ids(page: dict[str, Any]) -> list[int]:
    return [job["id"] for job in page["jobs"]]


async def _list(api: Api, params: Any = None) -> dict[str, Any]:
    response = await api.client.get("/api/jobs", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert set(page) == {"jobs", "next_after"}
    for job in page["jobs"]:
        assert set(job) == JOB_KEYS
    return page


async def _failed(api: Api, task: str = "explode") -> dict[str, Any]:
    """A job of an always-failing task with max_attempts=1, run until it failed."""
    job = await enqueue(api.client, task, {"reason": "pump failure"})
    await drain(api.app)
    failed = (await api.client.get(f"/api/jobs/{job['id']}")).json()
    assert failed["state"] == "failed", failed
    return failed


async def _completed(api: Api) -> dict[str, Any]:
    job = await enqueue(api.client, "wash", {"plate": "DONE-1"})
    await drain(api.app)
    completed = (await api.client.get(f"/api/jobs/{job['id']}")).json()
    assert completed["state"] == "completed", completed
    return completed


# -- listing ---------------------------------------------------------------------------------


@pytest.fixture
async def mixed(api: Api) -> dict[str, int]:
    """Five jobs a minute apart: completed, failed, completed, available, scheduled."""
    clock = api.clock
    ids = {"wash_a": (await enqueue(api.client, "wash", {"plate": "A"}))["id"]}
    clock.advance(timedelta(minutes=1))
    ids["explode"] = (await enqueue(api.client, "explode", {}))["id"]
    clock.advance(timedelta(minutes=1))
    ids["notify"] = (await enqueue(api.client, "notify", {"message": "hi"}))["id"]
    assert await drain(api.app) == 3
    clock.advance(timedelta(minutes=1))
    ids["wash_b"] = (
        await enqueue(
            api.client,
            "wash",
            {"plate": "B"},
            params={"queue": "express"},
            headers={"Idempotency-Key": "k1"},
        )
    )["id"]
    clock.advance(timedelta(minutes=1))
    ids["wash_c"] = (await enqueue(api.client, "wash", {"plate": "C"}, params={"delay": "3600"}))[
        "id"
    ]
    return ids


async def test_list_without_filters_is_newest_first(api: Api, mixed: dict[str, int]) -> None:
    page = await _list(api)
    assert _ids(page) == sorted(mixed.values(), reverse=True)
    assert page["next_after"] is None
    states = {job["id"]: job["state"] for job in page["jobs"]}
    assert states == {
        mixed["wash_a"]: "completed",
        mixed["explode"]: "failed",
        mixed["notify"]: "completed",
        mixed["wash_b"]: "available",
        mixed["wash_c"]: "scheduled",
    }


async def test_list_filters(api: Api, mixed: dict[str, int]) -> None:
    m = mixed
    t0 = START
    cases: list[tuple[Any, list[int]]] = [
        ({"state": "available"}, [m["wash_b"]]),
        ({"state": "completed"}, [m["notify"], m["wash_a"]]),
        ([("state", "failed"), ("state", "scheduled")], [m["wash_c"], m["explode"]]),
        ({"state": "running"}, []),
        ({"task": "wash"}, [m["wash_c"], m["wash_b"], m["wash_a"]]),
        ([("task", "notify"), ("task", "explode")], [m["notify"], m["explode"]]),
        ({"task": "no-such-task"}, []),
        ({"queue": "express"}, [m["wash_b"]]),
        ({"queue": "mail"}, [m["notify"]]),
        ([("queue", "washes"), ("queue", "default")], [m["wash_c"], m["explode"], m["wash_a"]]),
        ({"idempotency_key": "k1"}, [m["wash_b"]]),
        ({"idempotency_key": "k2"}, []),
        (
            {"created_after": (t0 + timedelta(seconds=90)).astimezone(PLUS_5).isoformat()},
            [m["wash_c"], m["wash_b"], m["notify"]],
        ),
        (
            {"created_before": (t0 + timedelta(seconds=150)).astimezone(MINUS_3).isoformat()},
            [m["notify"], m["explode"], m["wash_a"]],
        ),
        (
            {
                "created_after": (t0 + timedelta(seconds=90)).isoformat(),
                "created_before": (t0 + timedelta(seconds=150)).astimezone(PLUS_5).isoformat(),
            },
            [m["notify"]],
        ),
        ({"task": "wash", "state": "available"}, [m["wash_b"]]),
        ({"task": "wash", "queue": "mail"}, []),
    ]
    for params, expected in cases:
        page = await _list(api, params)
        assert _ids(page) == expected, params
        assert page["next_after"] is None


async def test_keyset_pages_visit_every_job_once(api: Api) -> None:
    created = [(await enqueue(api.client, "wash", {"plate": f"P{n}"}))["id"] for n in range(7)] + [
        (await enqueue(api.client, "notify", {"message": "x"}))["id"]
    ]

    seen: list[int] = []
    pages: list[list[int]] = []
    params: dict[str, Any] = {"limit": 3}
    for _ in range(10):
        page = await _list(api, params)
        pages.append(_ids(page))
        seen.extend(_ids(page))
        if page["next_after"] is None:
            break
        params = {"limit": 3, "after": page["next_after"]}
    assert seen == sorted(created, reverse=True)
    assert [len(p) for p in pages[:2]] == [3, 3]
    assert len(pages[-1]) in (0, 2)

    # pages combine with filters: only the seven washes, two at a time
    washes: list[int] = []
    params = {"limit": 2, "task": "wash"}
    for _ in range(10):
        page = await _list(api, params)
        washes.extend(_ids(page))
        if page["next_after"] is None:
            break
        params = {"limit": 2, "task": "wash", "after": page["next_after"]}
    assert washes == sorted(created[:7], reverse=True)


async def test_invalid_filters_answer_422(api: Api) -> None:
    for params in (
        {"state": "bogus"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "many"},
        {"after": "-1"},
        {"created_after": "2026-01-01T00:00:00"},
        {"created_before": "yesterday"},
        {"finished_after": "2026-01-01T00:00:00"},
    ):
        response = await api.client.get("/api/jobs", params=params)
        details = error_of(response, 422, "invalid_request")
        # a list filter (state) adds the index of the bad item: ["query", "state", 0]
        assert [d["loc"][:2] for d in details] == [["query", next(iter(params))]], details


async def test_filter_values_the_database_cannot_hold_answer_422_not_500(api: Api) -> None:
    await enqueue(api.client, "wash", {"plate": "A"})
    for params, loc in [
        ({"created_after": "9999-12-31T23:59:59-23:59"}, ["query", "created_after"]),
        ({"created_before": "0001-01-01T00:00:00+23:59"}, ["query", "created_before"]),
        ({"finished_before": "9999-12-31T23:59:59-23:59"}, ["query", "finished_before"]),
        ({"task": "wash\x00"}, ["query", "task", 0]),
        ([("queue", "washes"), ("queue", "\x00")], ["query", "queue", 1]),
        ({"idempotency_key": "k\x00"}, ["query", "idempotency_key"]),
    ]:
        response = await api.client.get("/api/jobs", params=params)
        details = error_of(response, 422, "invalid_request")
        assert [d["loc"] for d in details] == [loc], details
    for body in (
        {"finished_after": "9999-12-31T23:59:59-23:59"},
        {"finished_before": "0001-01-01T00:00:00+23:59"},
        {"task": "explode\x00"},
    ):
        response = await api.client.post("/api/jobs/retry-failed", json=body)
        error_of(response, 422, "invalid_request")

    extremes = {
        "created_after": "0001-01-01T00:00:00+00:00",
        "created_before": "9999-12-31T23:59:59+00:00",
    }
    assert len((await _list(api, extremes))["jobs"]) == 1


# -- one job -----------------------------------------------------------------------------------


async def test_get_one_job_and_404_for_a_missing_one(api: Api) -> None:
    job = await enqueue(api.client, "wash", {"plate": "A"})

    response = await api.client.get(f"/api/jobs/{job['id']}")
    assert response.status_code == 200
    assert response.json() == job

    missing = await api.client.get(f"/api/jobs/{job['id'] + 1000}")
    assert error_of(missing, 404, "job_not_found") == {"job_id": job["id"] + 1000}
    error_of(await api.client.get("/api/jobs/abc"), 422, "invalid_request")


async def test_cancel_a_waiting_job(api: Api) -> None:
    available = await enqueue(api.client, "wash", {"plate": "A"})
    scheduled = await enqueue(api.client, "wash", {"plate": "B"}, params={"delay": "60"})

    for job in (available, scheduled):
        response = await api.client.post(f"/api/jobs/{job['id']}/cancel")
        assert response.status_code == 200, response.text
        cancelled = response.json()
        assert set(cancelled) == JOB_KEYS
        assert cancelled["id"] == job["id"]
        assert cancelled["state"] == "cancelled"
        assert datetime.fromisoformat(cancelled["finished_at"]) == START
    api.clock.advance(timedelta(hours=1))
    assert await drain(api.app) == 0


async def test_cancelling_a_finished_or_missing_job_is_refused(api: Api) -> None:
    completed = await _completed(api)

    response = await api.client.post(f"/api/jobs/{completed['id']}/cancel")
    details = error_of(response, 409, "invalid_transition")
    assert details == {"job_id": completed["id"], "state": "completed", "action": "cancel"}
    assert (await api.app.get_job(completed["id"])).state.value == "completed"

    again = await api.client.post(f"/api/jobs/{completed['id']}/cancel")
    error_of(again, 409, "invalid_transition")
    error_of(await api.client.post("/api/jobs/99999/cancel"), 404, "job_not_found")


async def test_retry_a_failed_job(api: Api) -> None:
    failed = await _failed(api)
    assert failed["attempt"] == 1
    assert [e["message"] for e in failed["errors"]] == ["pump failure"]
    assert failed["errors"][0]["type"].endswith("RuntimeError")

    response = await api.client.post(f"/api/jobs/{failed['id']}/retry")

    assert response.status_code == 200, response.text
    retried = response.json()
    assert set(retried) == JOB_KEYS
    assert retried["id"] == failed["id"]
    assert retried["state"] == "available"
    assert retried["finished_at"] is None
    assert await drain(api.app) == 1
    assert (await api.app.get_job(failed["id"])).state.value == "failed"


async def test_retry_of_a_cancelled_job_and_refusals(api: Api) -> None:
    job = await enqueue(api.client, "wash", {"plate": "A"})
    await api.client.post(f"/api/jobs/{job['id']}/cancel")
    response = await api.client.post(f"/api/jobs/{job['id']}/retry")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "available"

    waiting = await api.client.post(f"/api/jobs/{job['id']}/retry")
    assert error_of(waiting, 409, "invalid_transition")["state"] == "available"
    completed = await _completed(api)
    error_of(await api.client.post(f"/api/jobs/{completed['id']}/retry"), 409)
    error_of(await api.client.post("/api/jobs/99999/retry"), 404, "job_not_found")


async def test_rerun_clones_a_finished_job(api: Api) -> None:
    completed = await _completed(api)
    api.clock.advance(timedelta(minutes=5))

    response = await api.client.post(f"/api/jobs/{completed['id']}/rerun")

    assert response.status_code == 201, response.text
    clone = response.json()
    assert set(clone) == JOB_KEYS
    assert clone["id"] != completed["id"]
    assert clone["rerun_of"] == completed["id"]
    assert clone["task"] == "wash"
    assert clone["payload"] == completed["payload"]
    assert clone["state"] == "available"
    assert clone["attempt"] == 0
    assert datetime.fromisoformat(clone["created_at"]) == START + timedelta(minutes=5)
    assert (await api.app.get_job(completed["id"])).state.value == "completed"

    waiting = await enqueue(api.client, "wash", {"plate": "W"})
    error_of(await api.client.post(f"/api/jobs/{waiting['id']}/rerun"), 409, "invalid_transition")
    error_of(await api.client.post("/api/jobs/99999/rerun"), 404, "job_not_found")


async def test_retry_failed_in_bulk(api: Api) -> None:
    early = await _failed(api, "explode")
    api.clock.advance(timedelta(minutes=10))
    late = await _failed(api, "explode")
    jammed = await _failed(api, "jam")
    completed = await _completed(api)
    cut = (START + timedelta(minutes=5)).astimezone(MINUS_3).isoformat()

    async def retry_failed(body: dict[str, Any]) -> int:
        response = await api.client.post("/api/jobs/retry-failed", json=body)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"retried"}
        count: int = response.json()["retried"]
        return count

    async def state(job: dict[str, Any]) -> str:
        return (await api.app.get_job(job["id"])).state.value

    assert await retry_failed({"task": "explode", "finished_after": cut}) == 1
    assert (await state(late), await state(early)) == ("available", "failed")
    assert await retry_failed({"ids": [early["id"], completed["id"]]}) == 1
    assert await state(early) == "available"
    assert await retry_failed({"task": "jam", "finished_before": cut}) == 0
    assert await retry_failed({"task": "jam"}) == 1
    assert await state(jammed) == "available"
    assert await retry_failed({}) == 0

    assert await drain(api.app) == 3
    assert await retry_failed({}) == 3
    assert await state(completed) == "completed"


async def test_retry_failed_with_a_bad_body_answers_422(api: Api) -> None:
    for body in (
        {"finished_after": "2026-01-01T00:00:00"},
        {"ids": "all"},
        {"ids": [0]},
        {"task": ""},
    ):
        response = await api.client.post("/api/jobs/retry-failed", json=body)
        error_of(response, 422, "invalid_request")


# -- sweep, stats, workers ------------------------------------------------------------------


async def test_sweep_rescues_an_expired_lease(api: Api) -> None:
    job = await enqueue(api.client, "wash", {"plate": "A"})
    store = await api.app.store()
    claimed = await store.claim_jobs(
        queues=None,
        limit=10,
        lease_ttl=timedelta(seconds=30),
        worker_id="vanished",
        now=api.clock.now(),
    )
    assert [j.id for j in claimed] == [job["id"]]

    early = await api.client.post("/api/sweep")
    assert early.status_code == 200, early.text
    assert early.json() == {"rescued": []}, "the lease has not expired yet"

    api.clock.advance(timedelta(seconds=31))
    response = await api.client.post("/api/sweep")

    assert response.status_code == 200, response.text
    assert response.json() == {"rescued": [job["id"]]}
    rescued = (await api.client.get(f"/api/jobs/{job['id']}")).json()
    assert rescued["state"] == "available"
    assert (await api.client.post("/api/sweep")).json() == {"rescued": []}
    assert await drain(api.app) == 1
    assert (await api.app.get_job(job["id"])).state.value == "completed"


async def test_stats_shape_and_values(api: Api) -> None:
    empty = await api.client.get("/api/stats")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "counts": {"by_state": {}, "by_queue": {}},
        "finished_per_minute": [],
        "oldest_waiting_seconds": None,
    }

    await enqueue(api.client, "wash", {"plate": "A"})
    await enqueue(api.client, "explode", {})
    await drain(api.app)
    await enqueue(api.client, "notify", {"message": "one"})
    await enqueue(api.client, "notify", {"message": "two"})
    api.clock.advance(timedelta(minutes=2))

    response = await api.client.get("/api/stats")

    assert response.status_code == 200, response.text
    stats = response.json()
    assert set(stats) == {"counts", "finished_per_minute", "oldest_waiting_seconds"}
    assert stats["counts"]["by_state"] == {"completed": 1, "failed": 1, "available": 2}
    assert stats["counts"]["by_queue"] == {
        "washes": {"completed": 1},
        "default": {"failed": 1},
        "mail": {"available": 2},
    }
    per_minute = sorted(
        (datetime.fromisoformat(m["minute"]), m["state"], m["count"])
        for m in stats["finished_per_minute"]
    )
    assert per_minute == [(START, "completed", 1), (START, "failed", 1)]
    assert stats["oldest_waiting_seconds"] == pytest.approx(120.0)

    later = (await api.client.get("/api/stats", params={"minutes": 1})).json()
    assert later["finished_per_minute"] == [], "the window excludes older minutes"
    error_of(await api.client.get("/api/stats", params={"minutes": "0"}), 422, "invalid_request")


async def test_workers_lists_a_registered_worker(api: Api) -> None:
    assert (await api.client.get("/api/workers")).json() == []
    store = await api.app.store()
    await store.register_worker(
        worker_id="bay-1:4242",
        host="bay-1",
        pid=4242,
        queues=["washes", "mail"],
        concurrency=4,
        now=api.clock.now(),
    )

    response = await api.client.get("/api/workers")

    assert response.status_code == 200, response.text
    [worker] = response.json()
    assert worker["id"] == "bay-1:4242"
    assert worker["host"] == "bay-1"
    assert worker["pid"] == 4242
    assert worker["queues"] == ["washes", "mail"]
    assert worker["concurrency"] == 4
    assert worker["state"] == "running"
    assert datetime.fromisoformat(worker["started_at"]) == START
    assert datetime.fromisoformat(worker["last_heartbeat_at"]) == START
    assert worker["stopped_at"] is None
    assert {"executors", "running", "completed"} <= set(worker)
