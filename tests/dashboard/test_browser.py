"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real
``conveyor serve`` with tokens set and a worker running the jobs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conveyor import JobState
from tests.dashboard.conftest import ADMIN_TOKEN, READER_TOKEN, Server, Shot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WAIT_MS = 60_000  # a hang guard for what the page shows, never a timing assertion
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"


async def signed_in(browser: Any, server: Server, token: str = ADMIN_TOKEN) -> Any:
    """A page of a fresh browser context, logged in with ``token``, on the overview."""
    context = await browser.new_context(base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto("/")
    await page.wait_for_url(re.compile(r"/login$"))
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/$"))
    return page


async def mark_page(page: Any) -> None:
    """Leave a marker in the page's window: it survives only as long as no reload happens."""
    await page.evaluate("window.__unreloaded = true")


async def still_unreloaded(page: Any) -> bool:
    return bool(await page.evaluate("window.__unreloaded === true"))


async def failed_job(server: Server, message: str = "card declined") -> int:
    job = await server.app.enqueue("dash.flaky", {"failures": 1, "message": message})
    await server.job_until(job.id, lambda j: j.state is JobState.FAILED)
    return job.id


async def test_logging_in_with_a_token_opens_the_overview(
    server: Server, browser: Any, shot: Shot
) -> None:
    context = await browser.new_context(base_url=server.url)
    page = await context.new_page()
    await page.goto("/jobs?state=failed")
    await page.wait_for_url(re.compile(r"/login\?next="))
    await shot(page, "login")
    await page.fill("#token", "not-a-token-at-all-0000")
    await page.click("button[type=submit]")
    assert "not valid" in await page.inner_text(".error-box")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/jobs\?state=failed$"))
    await page.goto("/")
    assert await page.inner_text("h1") == "Overview"
    assert "ops (admin)" in await page.inner_text("header")
    await shot(page, "overview")
    await page.click("text=Log out")
    await page.wait_for_url(re.compile(r"/login$"))
    await page.goto("/jobs")
    await page.wait_for_url(re.compile(r"/login\?next="))


async def test_filtering_failed_jobs_and_reading_the_error(
    server: Server, browser: Any, shot: Shot
) -> None:
    failed = await failed_job(server, message="card declined for customer 7")
    done = await server.app.enqueue("dash.echo", {"text": "hello"})
    await server.job_until(done.id, lambda j: j.state is JobState.COMPLETED)
    page = await signed_in(browser, server)
    assert "dash" in await page.inner_text("#overview-live")
    await shot(page, "overview")
    await page.goto("/jobs")
    await page.select_option("select[name=state]", "failed")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url(re.compile(r"/jobs\?state=failed"))
    rows = await page.inner_text("#job-rows")
    assert str(failed) in rows and "dash.flaky" in rows
    assert "dash.echo" not in rows
    await shot(page, "failed-jobs")
    await page.click(f"#job-rows a[href='/jobs/{failed}']")
    await page.wait_for_url(re.compile(rf"/jobs/{failed}$"))
    errors = await page.inner_text("#job-errors")
    assert "RuntimeError" in errors and "card declined for customer 7" in errors
    assert "Traceback" in errors
    assert await page.inner_text("#job-state") == "failed"
    await shot(page, "failed-job")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_retry_reaches_completed_without_a_reload(
    server: Server, browser: Any, shot: Shot
) -> None:
    job_id = await failed_job(server)
    page = await signed_in(browser, server)
    await page.goto(f"/jobs/{job_id}")
    await mark_page(page)
    await page.click("#job-actions button:has-text('Retry')")
    await page.wait_for_selector("#job-state:has-text('completed')")
    assert await still_unreloaded(page)
    assert "succeeded_on_attempt" in await page.inner_text("#job-result")
    assert (await server.app.get_job(job_id)).state is JobState.COMPLETED
    # a final job's fragment carries no trigger: the polling has stopped
    assert await page.get_attribute("#job-live", "hx-trigger") is None
    await shot(page, "retried")


async def test_cancelling_a_running_job(server: Server, browser: Any, shot: Shot) -> None:
    job = await server.app.enqueue("dash.crawl", {"steps": 3000, "delay": 0.1})
    await server.job_until(job.id, lambda j: j.state is JobState.RUNNING)
    page = await signed_in(browser, server)
    await page.goto(f"/jobs/{job.id}")
    await page.click("#job-actions button:has-text('Cancel')")
    await page.wait_for_selector("#job-state:has-text('cancelled')")
    assert (await server.app.get_job(job.id)).state is JobState.CANCELLED
    assert await page.query_selector("#job-actions button:has-text('Cancel')") is None
    await shot(page, "cancelled")


async def test_a_running_jobs_progress_bar_moves_without_a_reload(
    server: Server, browser: Any, shot: Shot
) -> None:
    job = await server.app.enqueue("dash.crawl", {"steps": 40, "delay": 0.25})
    await server.job_until(job.id, lambda j: j.progress is not None and j.progress.done >= 1)
    page = await signed_in(browser, server)
    await page.goto(f"/jobs/{job.id}")
    await mark_page(page)
    first = int(await page.get_attribute("#job-progress", "aria-valuenow"))
    await page.wait_for_function(
        f"Number(document.querySelector('#job-progress').getAttribute('aria-valuenow')) > {first}"
    )
    assert await still_unreloaded(page)
    assert await page.inner_text("#job-state") == "running"
    await shot(page, "progress")


async def test_a_read_token_sees_no_buttons_and_its_posts_are_refused(
    server: Server, browser: Any, shot: Shot
) -> None:
    job_id = await failed_job(server)
    page = await signed_in(browser, server, READER_TOKEN)
    await page.goto(f"/jobs/{job_id}")
    assert "card declined" in await page.inner_text("#job-errors")
    assert await page.query_selector("#job-actions") is None
    assert await page.query_selector("button:has-text('Retry')") is None
    await shot(page, "reader-job")
    await page.goto("/jobs?state=failed")
    assert await page.query_selector("text=Retry the matching jobs") is None
    body = await page.get_attribute("body", "hx-headers")
    csrf = re.search(r'"X-CSRF-Token": "([^"]*)"', body or "")
    assert csrf is not None
    refused = await page.request.post(
        f"/jobs/{job_id}/retry", form={"csrf": csrf.group(1)}, max_redirects=0
    )
    assert refused.status == 403
    bulk = await page.request.post(
        "/jobs/bulk",
        form={"csrf": csrf.group(1), "action": "retry", "newest_id": str(job_id)},
        max_redirects=0,
    )
    assert bulk.status == 403
    assert (await server.app.get_job(job_id)).state is JobState.FAILED


async def test_script_markup_in_a_payload_is_shown_as_text(
    server: Server, browser: Any, shot: Shot
) -> None:
    job = await server.app.enqueue("dash.echo", {"text": HOSTILE})
    await server.job_until(job.id, lambda j: j.state is JobState.COMPLETED)
    page = await signed_in(browser, server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"/jobs/{job.id}")
    assert HOSTILE in await page.inner_text("#job-payload")
    assert HOSTILE in await page.inner_text("#job-result")
    assert await page.evaluate("typeof window.__pwned") == "undefined"
    assert await page.query_selector("main img") is None
    assert dialogs == []
    await shot(page, "escaped")


async def test_bulk_retry_states_how_many_jobs_it_touches(
    server: Server, browser: Any, shot: Shot
) -> None:
    ids = [await failed_job(server, message=f"failure {n}") for n in range(3)]
    page = await signed_in(browser, server)
    await page.goto("/jobs?state=failed&task=dash.flaky")
    await page.click("text=Retry the matching jobs")
    await page.wait_for_url(re.compile(r"/jobs/bulk\?"))
    assert "retries 3 jobs" in await page.inner_text("#bulk-scope")
    await shot(page, "bulk-confirm")
    await page.click("button:has-text('Retry 3 jobs')")
    await page.wait_for_url(re.compile(r"/jobs\?.*changed=3"))
    assert "Retried 3 jobs." in await page.inner_text("#bulk-outcome")
    for job_id in ids:
        await server.job_until(job_id, lambda j: j.state is JobState.COMPLETED)
