"""The overview at ``/`` and its live fragment ``/partials/overview``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "overview.html", counts=await site.app.counts())

    @routes.get("/partials/overview", response_class=HTMLResponse)
    async def overview_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/overview.html" if is_htmx(request) else "overview.html"
        return page(request, viewer, template, counts=await site.app.counts())

    return routes
