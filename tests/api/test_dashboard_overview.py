"""The dashboard's overview at /: gated by the API's tokens; open jobs by state and queue,
throughput from the workers' tallies, paused queues, live fragment."""

from __future__ import annotations

from datetime import timedelta

from conveyor.metrics.tally import Tally
from tests.api._dashboard import HOSTILE, READER, TOKENS, assert_escaped
from tests.api.conftest import Api, MakeApi


async def test_overview_renders_without_tokens_configured(api: Api) -> None:
    response = await api.client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "<h1>Overview</h1>" in response.text
    assert '<script src="/static/htmx.min.js">' in response.text


async def test_overview_needs_a_token_when_tokens_are_configured(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await api.app.enqueue("wash", {"plate": "SECRET-1"})
    refused = await api.client.get("/")
    assert refused.status_code == 303 and refused.headers["location"] == "/login"
    polled = await api.client.get("/partials/overview", headers={"HX-Request": "true"})
    assert polled.status_code == 401 and polled.headers["HX-Redirect"].startswith("/login")
    for answer in (refused, polled):
        assert "washes" not in answer.text and "<table" not in answer.text
    allowed = await api.client.get("/", headers=READER)
    assert allowed.status_code == 200 and "washes" in allowed.text


async def test_overview_counts_open_jobs_by_state_and_queue(api: Api) -> None:
    for plate in ("A", "B"):
        await api.app.enqueue("wash", {"plate": plate})
    await api.app.enqueue("notify", {"message": "later"}, delay=3600)
    await api.app.pause_queue("mail")
    api.clock.advance(timedelta(minutes=5))

    page = await api.client.get("/")

    tiles = page.text.split('aria-label="Jobs by state"', 1)[1].split("</section>", 1)[0]
    assert '<span class="figure">2</span> <span class="state state-available">' in tiles
    assert '<span class="figure">1</span> <span class="state state-scheduled">' in tiles
    washes = page.text.split('href="/jobs?queue=washes"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">2</td>' in washes and "5m 00s" in washes  # oldest waiting job's age
    assert "Paused: " in page.text and 'paused">paused</span>' in page.text
    assert 'hx-get="/partials/overview"' in page.text
    fragment = await api.client.get("/partials/overview", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'href="/jobs?queue=washes"' in fragment.text


async def test_overview_charts_runs_from_the_workers_tallies(api: Api) -> None:
    tally = Tally()
    job = await api.app.enqueue("wash", {"plate": "T-1"})  # its task and queue label runs
    now = api.clock.now()
    for _ in range(3):
        tally.finish(job, "completed", 0.1, at=now - timedelta(minutes=2))
    tally.finish(job, "failed", 0.1, at=now - timedelta(hours=5))
    store = await api.app.store()
    await store.register_worker(
        worker_id="w-1", host="h", pid=1, queues=None, concurrency=4, now=now
    )
    await store.heartbeat_worker(
        worker_id="w-1", executors=1, running=0, completed=4, state="running", now=now,
        metrics=tally.to_json(),
    )  # fmt: skip

    page = await api.client.get("/")

    assert "Per minute, last hour: 3 completed, 0 failed or retried" in page.text
    assert "Per hour, last day: 3 completed, 1 failed or retried" in page.text
    assert "3 completed, 1 failed, 0 cancelled, 0 retried" in page.text
    assert page.text.count('fill="#2f9e44"') == 2  # one minute bar and one hour bar
    assert "11:58 UTC: 3 completed, 0 failed, 0 retried" in page.text  # a bar's hover title


async def test_the_static_files_are_served(api: Api) -> None:
    htmx = await api.client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text
    css = await api.client.get("/static/dashboard.css")
    assert css.status_code == 200


async def test_overview_escapes_markup_in_names(api: Api) -> None:
    await api.app.pause_queue(HOSTILE)
    assert_escaped((await api.client.get("/")).text)
    assert_escaped(
        (await api.client.get("/partials/overview", headers={"HX-Request": "true"})).text
    )
