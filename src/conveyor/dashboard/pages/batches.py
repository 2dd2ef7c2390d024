"""``/batches`` and ``/batches/{id}``: each batch's counts, its parent job, its children
and its callback's state; ``POST /batches/{id}/cancel`` cancels its unfinished children
(admin, CSRF-checked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from conveyor.app import Conveyor
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.errors import JobNotFound

PAGE = 50
BatchId = Annotated[int, Path(ge=1, lt=2**63)]
After = Annotated[int | None, Query(ge=1, lt=2**63)]


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    async def listing(unfinished: bool, after: int | None) -> dict[str, Any]:
        batches = await app.list_batches(unfinished=unfinished, after=after, limit=PAGE)
        return {"batches": batches, "unfinished": unfinished, "after": after}

    @routes.get("/batches", response_class=HTMLResponse)
    async def batches_page(
        request: Request, unfinished: bool = False, after: After = None
    ) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "batches.html", **await listing(unfinished, after))

    @routes.get("/partials/batches", response_class=HTMLResponse)
    async def batches_live(
        request: Request, unfinished: bool = False, after: After = None
    ) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/batches.html" if is_htmx(request) else "batches.html"
        return page(request, viewer, template, **await listing(unfinished, after))

    @routes.get("/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_page(request: Request, batch_id: BatchId, after: After = None) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        return page(request, viewer, "batch.html", **await _detail(app, batch_id, after))

    @routes.get("/partials/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_live(request: Request, batch_id: BatchId, after: After = None) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        template = "partials/batch.html" if is_htmx(request) else "batch.html"
        return page(request, viewer, template, **await _detail(app, batch_id, after))

    @routes.post("/batches/{batch_id}/cancel")
    async def cancel(request: Request, batch_id: BatchId) -> Response:
        viewer = await site.auth.actor(request)
        problem = await _cancel(app, batch_id)
        if is_htmx(request):  # htmx swaps the batch as it is now
            details = await _detail(app, batch_id, None, problem)
            return page(request, viewer, "partials/batch.html", **details)
        if problem:
            return page(request, viewer, "problem.html", status=409, message=problem)
        return RedirectResponse(f"/batches/{batch_id}", status_code=303)

    return routes


async def _cancel(app: Conveyor, batch_id: int) -> str:
    """Cancel the batch's unfinished children; why not, when none is left."""
    batch = await app.get_batch(batch_id)  # BatchNotFound: 404
    if not batch.pending:  # it finished since the page was read: no button is offered now
        return f"Batch {batch_id} has no unfinished job left to cancel."
    await app.cancel_batch(batch_id)
    return ""


async def _detail(
    app: Conveyor, batch_id: int, after: int | None, problem: str = ""
) -> dict[str, Any]:
    """What the batch page shows: the batch, a page of its children, its parent job,
    callback and sibling batches."""
    batch = await app.get_batch(batch_id)  # BatchNotFound: 404
    children = await app.batch_jobs(batch_id, after=after, limit=PAGE)
    parent = callback = None
    try:
        if batch.parent_id is not None:
            parent = await app.get_job(batch.parent_id)
        if batch.callback_job_id is not None:
            callback = await app.get_job(batch.callback_job_id)
    except JobNotFound:
        pass  # pruned with the finished history
    siblings = [] if parent is None else await app.batches_of(parent.id)
    return {
        "batch": batch,
        "children": children,
        "parent": parent,
        "callback": callback,
        "siblings": [b for b in siblings if b.id != batch.id],
        "after": after,
        "problem": problem,
    }
