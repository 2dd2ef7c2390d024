"""The job list and job page, rendered in process on both stores: filters, keyset pages,
escaping, live fragments, state-gated actions, and bulk actions in bounded batches."""

from __future__ import annotations

import re

import pytest

from conveyor.dashboard import selection
from conveyor.dashboard.selection import JobQuery, apply, measure
from conveyor.testing import drain
from tests.api.conftest import Api

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def ids_listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/jobs/(\d+)">', html)]


async def test_the_list_filters_by_state_task_queue_and_search(api: Api) -> None:
    washed = await api.app.enqueue("wash", {"plate": "AB-1"}, idempotency_key="order-7")
    noticed = await api.app.enqueue("notify", {"message": "hi"})
    exploded = await api.app.enqueue("explode", {"reason": "boom"})
    await drain(api.app, queues=["default"])
    get = api.client.get
    assert ids_listed((await get("/jobs")).text) == [exploded.id, noticed.id, washed.id]
    assert ids_listed((await get("/jobs?state=failed")).text) == [exploded.id]
    assert ids_listed((await get("/jobs?task=notify")).text) == [noticed.id]
    assert ids_listed((await get("/jobs?queue=washes")).text) == [washed.id]
    assert ids_listed((await get(f"/jobs?search={noticed.id}")).text) == [noticed.id]
    assert ids_listed((await get("/jobs?search=order-7")).text) == [washed.id]
    assert ids_listed((await get("/jobs?created_to=2000-01-01T00:00")).text) == []
    assert len(ids_listed((await get("/jobs?created_from=2000-01-01T00:00")).text)) == 3


async def test_a_bad_filter_is_explained_not_a_server_error(api: Api) -> None:
    for query in ("state=exploded", "created_from=yesterday"):
        response = await api.client.get(f"/jobs?{query}")
        assert response.status_code == 200, query
        assert 'class="error-box"' in response.text, query


async def test_the_list_pages_by_keyset(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.dashboard.pages import jobs

    monkeypatch.setattr(jobs, "PAGE_SIZE", 2)
    made = [(await api.app.enqueue("notify", {"message": str(n)})).id for n in range(5)]
    first = await api.client.get("/jobs")
    assert ids_listed(first.text) == [made[4], made[3]]
    older = re.search(r'href="(/jobs\?after=\d+)" rel="next"', first.text)
    assert older is not None
    second = await api.client.get(older.group(1))
    assert ids_listed(second.text) == [made[2], made[1]]
    # only the newest page follows new jobs live
    assert 'hx-trigger="every 5s"' in first.text
    assert 'hx-trigger="every 5s"' not in second.text


async def test_the_live_fragments_answer_htmx_alone(api: Api) -> None:
    job = await api.app.enqueue("notify", {"message": "hi"})
    htmx = {"HX-Request": "true"}
    rows = await api.client.get("/partials/jobs", headers=htmx)
    assert "<html" not in rows.text
    assert f'href="/jobs/{job.id}"' in rows.text
    overview = await api.client.get("/partials/overview", headers=htmx)
    assert "<html" not in overview.text and 'id="overview-live"' in overview.text
    live = await api.client.get(f"/partials/jobs/{job.id}", headers=htmx)
    assert "<html" not in live.text and 'hx-trigger="every 1s"' in live.text


async def test_a_final_jobs_fragment_stops_the_polling(api: Api) -> None:
    job = await api.app.enqueue("explode", {"reason": "boom"})
    await drain(api.app)
    live = await api.client.get(f"/partials/jobs/{job.id}", headers={"HX-Request": "true"})
    assert 'data-state="failed"' in live.text
    assert "hx-trigger" not in live.text


async def test_the_job_page_escapes_payload_result_and_errors(api: Api) -> None:
    job = await api.app.enqueue("explode", {"reason": HOSTILE})
    washed = await api.app.enqueue("wash", {"plate": "P-1", "extras": [HOSTILE]})
    await drain(api.app)
    for job_id in (job.id, washed.id):
        html = (await api.client.get(f"/jobs/{job_id}")).text
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_the_job_page_shows_errors_timeline_and_only_allowed_actions(api: Api) -> None:
    job = await api.app.enqueue("explode", {"reason": "card declined"})
    await drain(api.app)
    html = (await api.client.get(f"/jobs/{job.id}")).text
    assert "RuntimeError" in html and "card declined" in html and "Traceback" in html
    assert "attempt 1 failed: RuntimeError" in html
    assert f'action="/jobs/{job.id}/retry"' in html
    assert f'action="/jobs/{job.id}/rerun"' in html
    assert f'action="/jobs/{job.id}/cancel"' not in html
    waiting = await api.app.enqueue("notify", {"message": "later"})
    html = (await api.client.get(f"/jobs/{waiting.id}")).text
    assert f'action="/jobs/{waiting.id}/cancel"' in html
    assert f'action="/jobs/{waiting.id}/retry"' not in html
    assert 'id="job-explanation"' in html


async def test_an_action_the_state_forbids_is_refused(api: Api) -> None:
    job = await api.app.enqueue("wash", {"plate": "P-1"})
    await drain(api.app)
    page = await api.client.get(f"/jobs/{job.id}")
    csrf = re.search(r'"X-CSRF-Token": "([^"]*)"', page.text)
    assert csrf is not None
    headers = {"X-CSRF-Token": csrf.group(1)}
    for action in ("retry", "cancel", "explode"):
        refused = await api.client.post(f"/jobs/{job.id}/{action}", headers=headers)
        assert refused.status_code == 409, action
    assert (await api.app.get_job(job.id)).state.value == "completed"
    raced = await api.client.post(
        f"/jobs/{job.id}/cancel", headers={**headers, "HX-Request": "true"}
    )
    assert raced.status_code == 200  # htmx swaps the job as it is, saying why not
    assert 'id="job-problem"' in raced.text and 'data-state="completed"' in raced.text
    rerun = await api.client.post(f"/jobs/{job.id}/rerun", headers=headers)
    assert rerun.status_code == 303
    clone = int(rerun.headers["location"].rsplit("/", 1)[1])
    assert (await api.app.get_job(clone)).rerun_of == job.id
    missing = await api.client.get("/jobs/999999")
    assert missing.status_code == 404


async def test_bulk_actions_run_in_batches_up_to_the_counted_job(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selection, "BULK_BATCH", 2)
    failed = [(await api.app.enqueue("explode", {"reason": str(n)})).id for n in range(5)]
    await drain(api.app)
    query = JobQuery(state="failed")
    scope = await measure(api.app, query, "retry")
    assert (scope.count, scope.newest_id, scope.more) == (5, failed[-1], False)
    assert (await measure(api.app, query, "cancel")).count == 0
    late = await api.app.enqueue("explode", {"reason": "late"})
    await drain(api.app)
    assert await apply(api.app, query, "retry", newest_id=scope.newest_id or 0) == 5
    for job_id in failed:
        assert (await api.app.get_job(job_id)).state.value == "available"
    assert (await api.app.get_job(late.id)).state.value == "failed", "newer than confirmed"


async def test_bulk_counting_stops_at_its_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "BULK_LIMIT", 3)
    monkeypatch.setattr(selection, "BULK_BATCH", 1)
    for n in range(5):
        await api.app.enqueue("notify", {"message": str(n)})
    scope = await measure(api.app, JobQuery(), "cancel")
    assert (scope.count, scope.more) == (3, True)
    assert await apply(api.app, JobQuery(), "cancel", newest_id=scope.newest_id or 0) == 3


async def test_the_bulk_confirmation_states_the_count(api: Api) -> None:
    for n in range(3):
        await api.app.enqueue("explode", {"reason": str(n)})
    await drain(api.app)
    confirm = await api.client.get("/jobs/bulk?action=retry&state=failed")
    assert confirm.status_code == 200
    assert "retries <strong>3</strong> jobs" in confirm.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirm.text))
    done = await api.client.post("/jobs/bulk", data=fields)
    assert done.status_code == 303
    assert "changed=3" in done.headers["location"]
    assert "Retried 3 jobs." in (await api.client.get(done.headers["location"])).text
