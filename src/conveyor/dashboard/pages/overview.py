"""The overview at ``/`` and its live fragment ``/partials/overview``: open jobs by state
and queue, throughput charts, oldest waiting job per queue, live workers, paused queues
and the next schedule fires.

Every figure comes from an index over open jobs, the queue and worker registries or the
workers' tallies (``Conveyor.activity``): nothing here reads the finished history.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.app import Conveyor
from conveyor.dashboard.chart import chart
from conveyor.dashboard.pages.workers import is_live
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.queue import QUEUE_COUNTED_STATES

UPCOMING_FIRES = 8


async def figures(app: Conveyor) -> dict[str, Any]:
    now = app.clock.now()
    # Four independent reads: on PostgreSQL they run at once on the pool's connections.
    queues, activity, schedules, workers = await asyncio.gather(
        app.queues(), app.activity(), app.list_schedules(), app.workers()
    )
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
        "live": [w for w in workers if is_live(w, app)],
        "upcoming": upcoming,
    }


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "overview.html", **await figures(site.app))

    @routes.get("/partials/overview", response_class=HTMLResponse)
    async def overview_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/overview.html" if is_htmx(request) else "overview.html"
        return page(request, viewer, template, **await figures(site.app))

    return routes
