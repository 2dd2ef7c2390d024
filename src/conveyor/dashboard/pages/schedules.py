"""``/schedules``: each schedule's rule, next fire in its own time zone, last run and its
state, with pause, resume and trigger-now (admin, CSRF-checked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from conveyor.dashboard.forms import form_field
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site

NAME_LENGTH = 200


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    async def context() -> dict[str, Any]:
        return {"schedules": await app.list_schedules(), "now": app.clock.now()}

    @routes.get("/schedules", response_class=HTMLResponse)
    async def schedules_page(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "schedules.html", **await context())

    @routes.get("/partials/schedules", response_class=HTMLResponse)
    async def schedules_live(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/schedules.html" if is_htmx(request) else "schedules.html"
        return page(request, viewer, template, **await context())

    @routes.post("/schedules/pause")
    async def pause(request: Request) -> RedirectResponse:
        await site.auth.actor(request)
        await app.pause_schedule(await form_field(request, "schedule", max_length=NAME_LENGTH))
        return RedirectResponse("/schedules", status_code=303)

    @routes.post("/schedules/resume")
    async def resume(request: Request) -> RedirectResponse:
        await site.auth.actor(request)
        await app.resume_schedule(await form_field(request, "schedule", max_length=NAME_LENGTH))
        return RedirectResponse("/schedules", status_code=303)

    @routes.post("/schedules/trigger")
    async def trigger(request: Request) -> RedirectResponse:
        await site.auth.actor(request)
        name = await form_field(request, "schedule", max_length=NAME_LENGTH)
        jobs = await app.trigger_schedule(name)
        # One job: show it; a per-tenant schedule's several: the schedules again.
        target = f"/jobs/{jobs[0].id}" if len(jobs) == 1 else "/schedules"
        return RedirectResponse(target, status_code=303)

    return routes
