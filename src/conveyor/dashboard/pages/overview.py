"""The overview at ``/``: open jobs by state and queue, throughput charts, oldest waiting
job per queue, live workers, paused queues and the next schedule fires.

Every figure comes from an index over open jobs, the queue and worker registries or the
workers' tallies: nothing here reads the finished history.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.app import Conveyor
from conveyor.dashboard.chart import chart
from conveyor.dashboard.kit import Kit
from conveyor.dashboard.pages.workers import live_workers
from conveyor.queue import QUEUE_COUNTED_STATES

UPCOMING_FIRES = 8


async def figures(app: Conveyor) -> dict[str, Any]:
    now = app.clock.now()
    queues = await app.queues()
    activity = await app.activity()
    schedules = await app.list_schedules()
    upcoming = sorted(
        (s for s in schedules if s.next_fire_at is not None and not s.paused),
        key=lambda s: (s.next_fire_at, s.name),
    )[:UPCOMING_FIRES]
    return {
        "now": now,
        "queues": queues,
        "paused": [q for q in queues if q.paused],
        "states": [(s, sum(getattr(q, s) for q in queues)) for s in QUEUE_COUNTED_STATES],
        "activity": activity,
        "per_minute": chart(activity.per_minute, label="%H:%M"),
        "per_hour": chart(activity.per_hour, label="%a %H:00"),
        "live": await live_workers(app),
        "upcoming": upcoming,
    }


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "overview.html", **await figures(app))

    @pages.get("/partials/overview", response_class=HTMLResponse)
    async def overview_fragment(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/overview.html", **await figures(app))

    return pages
