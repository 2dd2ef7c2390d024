"""The car-wash Campaigns page in Conveyor's dashboard: each campaign's live counts
(pending, sent, bounced, failed) and the demo mail sink's inbox, escaped."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from carwash.mailsink import MailSink
from conveyor import Conveyor, JobState
from conveyor.api import create_api
from tests.carwash.conftest import RunningWorker, eventually
from tests.carwash.test_email import campaign_row, seed

HOSTILE_SUBJECT = "<script>alert(1)</script> for {{ customer.name }}"


@pytest.mark.timeout(300)
async def test_campaigns_page_shows_live_counts_and_the_inbox(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    reader: Engine,
    rng: random.Random,
    start_worker: Callable[..., RunningWorker],
    tmp_path: Path,
) -> None:
    tenant, opted_in = seed(engine, 24, rng)
    kept = MailSink(directory=tmp_path / "data" / "mail")  # where the app's mailbox is
    kept.reject(opted_in[0])
    async with kept.running():
        app = make_app(smtp_url=kept.url, campaign_chunk_size=10)
        transport = httpx.ASGITransport(app=create_api(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            empty = await client.get("/campaigns")
            assert empty.status_code == 200 and "No campaign yet" in empty.text
            assert '<a href="/campaigns" class="current">Campaigns</a>' in empty.text

            job = await app.enqueue(
                "email.send_campaign",
                {"tenant_id": tenant, "subject": HOSTILE_SUBJECT, "body": "Clean car."},
            )
            worker = start_worker(app)

            async def done() -> bool:
                return (await app.get_job(job.id)).state is JobState.COMPLETED

            await eventually(done)
            result = (await app.get_job(job.id)).result
            assert isinstance(result, dict)
            campaign_id = result["campaign_id"]
            await eventually(lambda: campaign_row(reader, campaign_id).state == "finished")
            await worker.stop()

            page = await client.get("/campaigns")
            fragment = await client.get("/partials/campaigns", headers={"HX-Request": "true"})

    assert page.status_code == 200 and fragment.status_code == 200
    row = page.text.split(f'data-campaign="{campaign_id}"', 1)[1].split("</tr>", 1)[0]
    cells = {
        state: row.split(f'<td class="{state}">', 1)[1].split("<", 1)[0]
        for state in ("pending", "sent", "bounced", "failed")
    }
    assert cells == {"pending": "0", "sent": str(len(opted_in) - 1), "bounced": "1", "failed": "0"}
    assert f'href="/jobs/{job.id}"' in row
    assert "<script>alert(1)" not in page.text  # neither the campaign nor the inbox runs it
    assert "&lt;script&gt;alert(1)&lt;/script&gt; for {{ customer.name }}" in row
    inbox = page.text.split('aria-label="Mail sink inbox"', 1)[1]
    assert inbox.count("<tr><td>") == len(opted_in) - 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt; for " in inbox
    assert 'data-campaign="' in fragment.text and "<html" not in fragment.text
