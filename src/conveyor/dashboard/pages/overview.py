"""The overview at ``/`` and its live fragment ``/partials/overview``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.queue import QUEUE_COUNTED_STATES


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    async def facts() -> dict[str, Any]:
        # Queue counts come through the state and lease indexes (open and failed jobs),
        # so a page load never counts the finished history.
        return {"queues": await site.app.queues(), "states": QUEUE_COUNTED_STATES}

    @routes.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "overview.html", **await facts())

    @routes.get("/partials/overview", response_class=HTMLResponse)
    async def overview_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/overview.html" if is_htmx(request) else "overview.html"
        return page(request, viewer, template, **await facts())

    return routes
