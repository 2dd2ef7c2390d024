"""``/schedules``: each schedule's rule, next fire in its own time zone, last run and its
state, with pause, resume and trigger-now (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    async def context() -> dict[str, object]:
        return {"schedules": await app.list_schedules(), "now": app.clock.now()}

    @pages.get("/schedules", response_class=HTMLResponse)
    async def schedules_page(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "schedules.html", **await context())

    @pages.get("/partials/schedules", response_class=HTMLResponse)
    async def schedules_fragment(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/schedules.html", **await context())

    @pages.post("/schedules/pause")
    async def pause(request: Request) -> RedirectResponse:
        await app.pause_schedule(_schedule(await kit.writer(request)))
        return kit.back("/schedules")

    @pages.post("/schedules/resume")
    async def resume(request: Request) -> RedirectResponse:
        await app.resume_schedule(_schedule(await kit.writer(request)))
        return kit.back("/schedules")

    @pages.post("/schedules/trigger")
    async def trigger(request: Request) -> RedirectResponse:
        jobs = await app.trigger_schedule(_schedule(await kit.writer(request)))
        # One job: show it; a per-tenant schedule's several: the schedules again.
        return kit.back(f"/jobs/{jobs[0].id}" if len(jobs) == 1 else "/schedules")

    return pages


def _schedule(form: dict[str, str]) -> str:
    name = form.get("schedule", "")
    if not name or len(name) > 200:
        raise HTTPException(422, "the form names no schedule")
    return name
