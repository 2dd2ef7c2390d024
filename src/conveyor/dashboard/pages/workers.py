"""``/workers``: every registered worker with its host, pid, queues, executors now and at
most, running jobs and heartbeat age; live ones first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.app import Conveyor
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.stats import WorkerInfo

# A worker that has not heart-beaten for this many lease periods is shown as gone, even
# before another worker marks it dead (the same rule as the metrics' worker gauge).
LIVE_LEASES = 3
LISTED = 200


def is_live(worker: WorkerInfo, app: Conveyor) -> bool:
    """Running or draining now, with a fresh heartbeat."""
    fresh = app.clock.now() - LIVE_LEASES * timedelta(seconds=app.settings.lease_ttl_seconds)
    return worker.state in ("running", "stopping") and worker.last_heartbeat_at >= fresh


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    async def context() -> dict[str, Any]:
        workers = await app.workers(limit=LISTED)
        live = {w.id for w in workers if is_live(w, app)}
        workers.sort(key=lambda w: (w.id not in live, w.host, w.pid))
        return {"workers": workers, "live": live, "now": app.clock.now()}

    @routes.get("/workers", response_class=HTMLResponse)
    async def workers_page(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "workers.html", **await context())

    @routes.get("/partials/workers", response_class=HTMLResponse)
    async def workers_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/workers.html" if is_htmx(request) else "workers.html"
        return page(request, viewer, template, **await context())

    return routes
