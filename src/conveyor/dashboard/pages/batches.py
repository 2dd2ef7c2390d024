"""``/batches`` and ``/batches/{id}``: each batch's counts, its parent job, its children
and its callback's state."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit
from conveyor.errors import JobNotFound

PAGE = 50
BatchId = Annotated[int, Path(ge=1, lt=2**63)]
After = Annotated[int | None, Query(ge=1, lt=2**63)]


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    async def listing(unfinished: bool, after: int | None) -> dict[str, Any]:
        page = await app.list_batches(unfinished=unfinished, after=after, limit=PAGE)
        return {"page": page, "unfinished": unfinished, "after": after}

    async def detail(batch_id: int, after: int | None) -> dict[str, Any]:
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
        }

    @pages.get("/batches", response_class=HTMLResponse)
    async def batches_page(
        request: Request, unfinished: bool = False, after: After = None
    ) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "batches.html", **await listing(unfinished, after))

    @pages.get("/partials/batches", response_class=HTMLResponse)
    async def batches_fragment(
        request: Request, unfinished: bool = False, after: After = None
    ) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/batches.html", **await listing(unfinished, after))

    @pages.get("/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_page(request: Request, batch_id: BatchId, after: After = None) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "batch.html", **await detail(batch_id, after))

    @pages.get("/partials/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_fragment(
        request: Request, batch_id: BatchId, after: After = None
    ) -> HTMLResponse:
        kit.viewer(request)
        return kit.render(request, "partials/batch.html", **await detail(batch_id, after))

    return pages
