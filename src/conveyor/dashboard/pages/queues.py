"""``/queues``: each queue's depth and lag, paused or not, with pause and resume (admin,
CSRF-checked)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from conveyor.dashboard.forms import form_field
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    @routes.get("/queues", response_class=HTMLResponse)
    async def queues_page(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "queues.html", queues=await app.queues())

    @routes.get("/partials/queues", response_class=HTMLResponse)
    async def queues_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/queues.html" if is_htmx(request) else "queues.html"
        return page(request, viewer, template, queues=await app.queues())

    @routes.post("/queues/pause")
    async def pause(request: Request) -> RedirectResponse:
        await site.auth.actor(request)
        await app.pause_queue(await form_field(request, "queue", max_length=255))
        return RedirectResponse("/queues", status_code=303)

    @routes.post("/queues/resume")
    async def resume(request: Request) -> RedirectResponse:
        await site.auth.actor(request)
        await app.resume_queue(await form_field(request, "queue", max_length=255))
        return RedirectResponse("/queues", status_code=303)

    return routes
