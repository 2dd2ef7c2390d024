"""The queues, schedules, workers, batches and overview pages in a real browser (Debian's
Chromium through Playwright) against a real ``conveyor serve`` with a worker running."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import JobState
from tests.dashboard.conftest import READER_TOKEN, Server, Shot
from tests.dashboard.dash_app import QUEUE
from tests.dashboard.test_browser import mark_page, signed_in, still_unreloaded

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def is_paused(server: Server) -> bool:
    return {q.name: q.paused for q in await server.app.queues()}[QUEUE]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_pausing_and_resuming_a_queue(server: Server, browser: Any, shot: Shot) -> None:
    page = await signed_in(browser, server)
    await page.goto("/queues")
    row = page.locator(f'tr[data-queue="{QUEUE}"]')

    await row.get_by_role("button", name="Pause").click()
    await row.locator(".badge.paused").wait_for()
    assert await is_paused(server)
    await shot(page, "queues-paused")

    # Jobs keep arriving while the queue is paused, and its depth rises on the page
    # without a reload (the table is polled).
    await mark_page(page)
    held = await server.app.enqueue("dash.echo", {"text": "held"})
    await page.wait_for_function(
        f"""() => {{
            const cells = document.querySelectorAll('tr[data-queue="{QUEUE}"] td');
            return cells.length > 2 && cells[2].innerText.trim() === "1";
        }}"""
    )
    assert await still_unreloaded(page)
    assert (await server.app.get_job(held.id)).state is JobState.AVAILABLE

    await row.get_by_role("button", name="Resume").click()
    await row.locator(".badge.active").wait_for()
    assert not await is_paused(server)
    await server.job_until(held.id, lambda j: j.state is JobState.COMPLETED)


async def test_a_read_token_is_offered_no_queue_or_schedule_action(
    server: Server, browser: Any
) -> None:
    await server.app.create_schedule(
        "nightly", "dash.echo", payload={"text": "n"}, cron="0 2 * * *"
    )
    page = await signed_in(browser, server, READER_TOKEN)
    for path in ("/queues", "/schedules"):
        await page.goto(path)
        await page.locator("main table").wait_for()
        assert await page.locator("main button").count() == 0


async def test_each_page_renders(server: Server, browser: Any, shot: Shot) -> None:
    await server.app.create_schedule(
        "morning", "dash.echo", payload={"text": "m"}, cron="30 9 * * *",
        timezone="America/Chicago",
    )  # fmt: skip
    batch = await server.app.enqueue_batch(
        "dash.echo", [{"text": f"item {n}"} for n in range(5)], callback="dash.echo",
        callback_payload={"text": "all done"},
    )  # fmt: skip
    await server.job_until(
        (await server.app.batch_jobs(batch.id)).jobs[-1].id,
        lambda j: j.state is JobState.COMPLETED,
    )
    page = await signed_in(browser, server)

    for path, heading, shown in (
        ("/", "Overview", "Throughput"),
        ("/queues", "Queues", QUEUE),
        ("/schedules", "Schedules", "CST"),
        ("/workers", "Workers", "1 live of"),
        ("/batches", "Batches", f"#{batch.id}"),
        (f"/batches/{batch.id}", f"Batch #{batch.id}", "Children"),
    ):
        await page.goto(path)
        assert await page.inner_text("h1") == heading
        await page.get_by_text(shown).first.wait_for()
        await shot(page, path.strip("/").replace("/", "-") or "overview")


async def test_cancelling_a_batch_after_confirming_its_unfinished_count(
    server: Server, browser: Any, shot: Shot
) -> None:
    # The queue is paused so that the children wait: all four are unfinished when asked.
    await server.app.pause_queue(QUEUE)
    batch = await server.app.enqueue_batch("dash.echo", [{"text": f"c{n}"} for n in range(4)])
    reader = await signed_in(browser, server, READER_TOKEN)
    await reader.goto(f"/batches/{batch.id}")
    await reader.get_by_text("4 pending").wait_for()
    assert await reader.locator("main button").count() == 0

    page = await signed_in(browser, server)
    await page.goto(f"/batches/{batch.id}")
    button = page.get_by_role("button", name="Cancel 4 unfinished jobs")
    await button.wait_for()
    await shot(page, "batch-cancel-offered")
    await mark_page(page)
    asked: list[str] = []

    async def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", confirm)
    await button.click()
    await page.get_by_text("4 cancelled").wait_for()
    assert asked == [
        f"Cancel the 4 unfinished jobs of batch #{batch.id}? "
        "Its finished jobs are left as they are."
    ]
    assert await page.locator("#batch-actions").count() == 0
    assert await still_unreloaded(page)
    await shot(page, "batch-cancelled")
    children = (await server.app.batch_jobs(batch.id)).jobs
    assert [j.state for j in children] == [JobState.CANCELLED] * 4
    await server.app.resume_queue(QUEUE)
