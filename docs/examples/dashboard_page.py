"""An application's own dashboard page: a nav entry and a body the dashboard lays out."""

from __future__ import annotations

import asyncio

import httpx
from markupsafe import escape
from pydantic import BaseModel

from conveyor import Conveyor, JobContext, PageContext
from conveyor.api import create_api

app = Conveyor()


class Wash(BaseModel):
    plate: str


@app.task(queue="washes")
async def wash(payload: Wash, ctx: JobContext) -> None: ...


async def fleet(page: PageContext) -> str:
    """The page's body: an HTML fragment, each value escaped."""
    waiting = await app.list_jobs(state="available", task="wash", limit=20)
    rows = "".join(f"<li>{escape(job.payload['plate'])}</li>" for job in waiting.jobs)
    hint = "" if page.can_act else "<p>Read-only token: no actions.</p>"
    return f"<h2>Cars waiting</h2><ul>{rows}</ul>{hint}"


# Before create_api (which `conveyor serve` calls): a "Fleet" entry in the nav, the page
# at /fleet behind the dashboard's login, refreshed in place every 5 s.
app.add_dashboard_page("/fleet", "Fleet", fleet, refresh_seconds=5)


async def main() -> None:
    async with app:
        await wash.enqueue(Wash(plate="<b>CW-1</b>"))
        transport = httpx.ASGITransport(app=create_api(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            page = await client.get("/fleet")
    assert page.status_code == 200
    assert '<a href="/fleet" class="current">Fleet</a>' in page.text
    assert "<li>&lt;b&gt;CW-1&lt;/b&gt;</li>" in page.text


if __name__ == "__main__":
    asyncio.run(main())
