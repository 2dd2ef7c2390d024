"""``/workers``: every registered worker with its host, pid, queues, executors now and at
most, running jobs and heartbeat age; live ones first."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit
from conveyor.stats import WorkerInfo

# A worker that has not heart-beaten for this many lease periods is shown as gone, even
# before another worker marks it dead (the same rule as the metrics' worker gauge).
LIVE_LEASES = 3
LISTED = 200


def is_live(worker: WorkerInfo, app: Conveyor) -> bool:
    """Running or draining now, with a fresh heartbeat."""
    fresh = app.clock.now() - LIVE_LEASES * timedelta(seconds=app.settings.lease_ttl_seconds)
    return worker.state in ("running", "stopping") and worker.last_heartbeat_at >= fresh


async def live_workers(app: Conveyor) -> list[WorkerInfo]:
    return [w for w in await app.workers(limit=LISTED) if is_live(w, app)]


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    async def context() -> dict[str, object]:
        workers = await app.workers(limit=LISTED)
        live = {w.id for w in workers if is_live(w, app)}
        workers.sort(key=lambda w: (w.id not in live, w.host, w.pid))
        return {"workers": workers, "live": live, "now": app.clock.now()}

    @pages.get("/workers", response_class=HTMLResponse)
    async def workers_page(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "workers.html", **await context())

    @pages.get("/partials/workers", response_class=HTMLResponse)
    async def workers_fragment(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/workers.html", **await context())

    return pages
