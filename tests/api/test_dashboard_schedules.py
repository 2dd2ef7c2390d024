"""The dashboard's schedules page: next fire in the schedule's own zone, last run and its
state; pause, resume and trigger really change the store; read tokens cannot act."""

from __future__ import annotations

from tests.api._dashboard import (
    ADMIN,
    HOSTILE,
    READER_TOKEN,
    TOKENS,
    assert_escaped,
    csrf_of,
    sign_in,
)
from tests.api._support import notify as notify_task
from tests.api.conftest import Api, MakeApi


async def test_next_fire_is_shown_in_the_schedules_own_zone(api: Api) -> None:
    await api.app.create_schedule(
        "morning-wash", "wash", payload={"plate": "S-1"}, cron="30 9 * * *",
        timezone="America/Chicago",
    )  # fmt: skip
    await api.app.create_schedule("often", "notify", payload={"message": "hi"}, every=90)

    page = await api.client.get("/schedules")

    assert page.status_code == 200
    row = page.text.split('data-schedule="morning-wash"', 1)[1].split("</tr>", 1)[0]
    # 12:00 UTC is 06:00 in Chicago: the next 09:30 there is the same day, 15:30 UTC.
    assert "2026-01-01 09:30:00 CST" in row and "in 3h 30m" in row
    assert "never ran" in row
    assert "every 1m 30s" in page.text
    overview = await api.client.get("/")
    assert "2026-01-01 09:30:00 CST" in overview.text  # among the next fires


async def test_pause_resume_and_trigger_act_on_the_store(api: Api) -> None:
    await api.app.create_schedule("nightly", "wash", payload={"plate": "N-1"}, cron="0 2 * * *")
    token = csrf_of(await api.client.get("/schedules"))

    await api.client.post("/schedules/pause", data={"schedule": "nightly", "csrf": token})
    assert (await api.app.get_schedule("nightly")).paused
    shown = await api.client.get("/schedules")
    assert "paused" in shown.text.split('data-schedule="nightly"', 1)[1].split("</tr>", 1)[0]

    await api.client.post("/schedules/resume", data={"schedule": "nightly", "csrf": token})
    assert not (await api.app.get_schedule("nightly")).paused

    triggered = await api.client.post(
        "/schedules/trigger", data={"schedule": "nightly", "csrf": token}
    )
    jobs = (await api.app.list_jobs(task="wash")).jobs
    assert len(jobs) == 1 and jobs[0].payload["plate"] == "N-1"
    assert triggered.status_code == 303 and triggered.headers["location"] == f"/jobs/{jobs[0].id}"
    row = (await api.client.get("/schedules")).text.split('data-schedule="nightly"', 1)[1]
    assert f'href="/jobs/{jobs[0].id}"' in row.split("</tr>", 1)[0]  # the last run, linked
    assert ">available</a>" in row.split("</tr>", 1)[0]  # and its state


async def test_a_read_token_cannot_trigger(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await api.app.create_schedule("nightly", "wash", payload={"plate": "N-1"}, cron="0 2 * * *")
    await sign_in(api.client, READER_TOKEN)

    page = await api.client.get("/schedules")
    assert "nightly" in page.text and "Trigger now" not in page.text
    refused = await api.client.post(
        "/schedules/trigger", data={"schedule": "nightly", "csrf": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert (await api.app.list_jobs(task="wash")).jobs == []
    admin = await api.client.get("/schedules", headers=ADMIN)
    assert "Trigger now" in admin.text


async def test_schedule_and_task_names_are_escaped(api: Api) -> None:
    api.app.task(name=HOSTILE, queue=HOSTILE)(notify_task)
    await api.app.create_schedule("hostile", HOSTILE, payload={"message": "m"}, every=60)
    batch = await api.app.enqueue_batch(
        HOSTILE, [{"message": "m"}], callback=HOSTILE, callback_payload={"message": "done"}
    )
    for path in ("/schedules", "/", f"/batches/{batch.id}", "/batches", "/queues"):
        page = await api.client.get(path)
        assert page.status_code == 200
        assert_escaped(page.text)
