"""The car-wash Campaigns page in a real browser (Debian's Chromium through Playwright):
a campaign's counts (pending, sent, bounced, failed) move without a reload while a worker
sends its emails, and the mail sink's inbox shows what arrived."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from carwash.mailsink import MailSink
from conveyor import Conveyor, JobState
from conveyor.api import create_api
from conveyor.testing import drain
from tests.carwash.conftest import RunningWorker, eventually
from tests.carwash.test_email import campaign_row, seed
from tests.dashboard.conftest import Shot, browser, free_port, shot  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WAIT_MS = 60_000  # a hang guard for what the page shows, never a timing assertion
COUNTS = ("pending", "sent", "bounced", "failed")
SUBJECT = "Spring wash week"


@asynccontextmanager
async def served(app: Conveyor) -> AsyncIterator[str]:
    """The app's API and dashboard on a free loopback port (no tokens: no login), served
    by uvicorn in this test's event loop; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_api(app), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    running = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or running.done())
        assert not running.done(), "uvicorn stopped before it served"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await running


async def counts_shown(page: Any, campaign_id: int) -> dict[str, str]:
    row = page.locator(f'tr[data-campaign="{campaign_id}"]')
    return {state: (await row.locator(f"td.{state}").inner_text()).strip() for state in COUNTS}


@pytest.mark.parametrize("carwash_url", ["sqlite", "postgres"], indirect=True)
async def test_campaign_counts_move_without_a_reload_as_a_worker_sends(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    reader: Engine,
    rng: random.Random,
    start_worker: Callable[..., RunningWorker],
    tmp_path: Path,
    browser: Any,  # noqa: F811
    shot: Shot,  # noqa: F811
) -> None:
    tenant, opted_in = seed(engine, 24, rng)
    sink = MailSink(directory=tmp_path / "data" / "mail")  # the app's mailbox, read by the page
    sink.reject(opted_in[0])
    async with sink.running():
        app = make_app(smtp_url=sink.url, campaign_chunk_size=4)
        job = await app.enqueue(
            "email.send_campaign", {"tenant_id": tenant, "subject": SUBJECT, "body": "Shine."}
        )
        # Only the fan-out runs here: the campaign and its deliveries exist, nothing is sent.
        assert await drain(app, max_jobs=1) == 1
        fanned_out = await app.get_job(job.id)
        assert fanned_out.state is JobState.COMPLETED and isinstance(fanned_out.result, dict)
        campaign_id = int(fanned_out.result["campaign_id"])

        async with served(app) as url:
            context = await browser.new_context(base_url=url)
            context.set_default_timeout(WAIT_MS)
            page = await context.new_page()
            await page.goto("/campaigns")
            assert await page.inner_text("h1") == "Campaigns"
            row = page.locator(f'tr[data-campaign="{campaign_id}"]')
            await row.wait_for()
            assert SUBJECT in await row.inner_text()
            before = await counts_shown(page, campaign_id)
            inbox = page.locator('section[aria-label="Mail sink inbox"]')
            assert "No mail received yet." in await inbox.inner_text()
            await shot(page, "campaigns-pending")
            await page.evaluate("window.__unreloaded = true")

            worker = start_worker(app)
            # The page's body is re-rendered in place (htmx polling): no reload.
            await page.wait_for_function(
                f"""() => {{
                    const row = document.querySelector('tr[data-campaign="{campaign_id}"]');
                    return row !== null && row.querySelector("td.pending").innerText === "0";
                }}"""
            )
            after = await counts_shown(page, campaign_id)
            await inbox.get_by_text(SUBJECT).first.wait_for()
            received = await inbox.inner_text()
            unreloaded = await page.evaluate("window.__unreloaded === true")
            await shot(page, "campaigns-sent")
            await context.close()
            await eventually(lambda: campaign_row(reader, campaign_id).state == "finished")
            await worker.stop()

    assert before == {"pending": str(len(opted_in)), "sent": "0", "bounced": "0", "failed": "0"}
    assert after == {"pending": "0", "sent": str(len(opted_in) - 1), "bounced": "1", "failed": "0"}
    assert unreloaded, "the counts changed through a reload, not in place"
    assert len(opted_in) - 1 <= 20  # the inbox lists the newest 20: every sent mail here
    assert all(address in received for address in opted_in[1:])
    assert opted_in[0] not in received  # its mail bounced
