"""``/queues``: each queue's depth and lag, paused or not, with pause and resume (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/queues", response_class=HTMLResponse)
    async def queues_page(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "queues.html", queues=await app.queues())

    @pages.get("/partials/queues", response_class=HTMLResponse)
    async def queues_fragment(request: Request) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/queues.html", queues=await app.queues())

    @pages.post("/queues/pause")
    async def pause(request: Request) -> RedirectResponse:
        await app.pause_queue(_queue(await kit.writer(request)))
        return kit.back("/queues")

    @pages.post("/queues/resume")
    async def resume(request: Request) -> RedirectResponse:
        await app.resume_queue(_queue(await kit.writer(request)))
        return kit.back("/queues")

    return pages


def _queue(form: dict[str, str]) -> str:
    name = form.get("queue", "")
    if not name or len(name) > 255:
        raise HTTPException(422, "the form names no queue")
    return name
