"""One job: ``/jobs/{id}``, its live fragment ``/partials/jobs/{id}`` (polled until the
job is final), and its actions ``POST /jobs/{id}/retry|rerun|cancel``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from conveyor.app import Conveyor
from conveyor.dashboard.auth import Viewer
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.dashboard.timeline import allowed_actions, timeline
from conveyor.errors import BatchNotFound, ConveyorError, JobNotFound
from conveyor.item import ItemOutcome
from conveyor.job import Job

MAX_ID = 2**63 - 1
FAILED_ITEMS_SHOWN = 50
CHILDREN_SHOWN = 20


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    async def show(
        request: Request, viewer: Viewer, job_id: int, template: str, problem: str = ""
    ) -> Response:
        try:
            job = await app.get_job(job_id) if 1 <= job_id <= MAX_ID else None
        except JobNotFound:
            job = None
        if job is None:
            message = f"There is no job {job_id}."
            return page(request, viewer, "problem.html", status=404, message=message)
        return page(request, viewer, template, problem=problem, **await _details(app, job))

    @routes.get("/jobs/{job_id}", response_class=HTMLResponse)
    async def job_page(request: Request, job_id: int) -> Response:
        return await show(request, site.auth.viewer(request), job_id, "job.html")

    @routes.get("/partials/jobs/{job_id}", response_class=HTMLResponse)
    async def job_live(request: Request, job_id: int) -> Response:
        template = "partials/job_live.html" if is_htmx(request) else "job.html"
        return await show(request, site.auth.viewer(request), job_id, template)

    @routes.post("/jobs/{job_id}/{action}")
    async def act(request: Request, job_id: int, action: str) -> Response:
        viewer = await site.auth.actor(request)
        outcome = await _act(app, job_id, action)
        if isinstance(outcome, str):
            status = 404 if outcome.startswith("There is no") else 409
            if status == 409 and is_htmx(request):
                # htmx swaps no error response: show the job as it is now, and why not
                return await show(request, viewer, job_id, "partials/job_live.html", outcome)
            return page(request, viewer, "problem.html", status=status, message=outcome)
        if outcome.id != job_id:  # a re-run is a new job: go and watch it
            url = f"/jobs/{outcome.id}"
            if is_htmx(request):
                return Response(status_code=204, headers={"HX-Redirect": url})
            return RedirectResponse(url, status_code=303)
        if is_htmx(request):
            return await show(request, viewer, job_id, "partials/job_live.html")
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    return routes


async def _act(app: Conveyor, job_id: int, action: str) -> Job | str:
    """Apply ``action`` to the job when its state allows it: the job afterwards (for a
    re-run, the new job), or why not."""
    try:
        job = await app.get_job(job_id) if 1 <= job_id <= MAX_ID else None
    except JobNotFound:
        job = None
    if job is None:
        return f"There is no job {job_id}."
    if action not in allowed_actions(job.state):
        return f"Job {job_id} is {job.state.value}: it cannot be given {action!r}."
    try:
        if action == "retry":
            return await app.retry(job.id)
        if action == "rerun":
            return await app.rerun(job.id)
        return await app.cancel(job.id)
    except ConveyorError as exc:  # the job moved on since it was read
        return str(exc)


async def _details(app: Conveyor, job: Job) -> dict[str, Any]:
    """Everything the job page shows beside the job itself."""
    now = app.clock.now()
    explanation = None if job.state.is_final else await app.explain(job.id)
    counts, failed_items = await app.job_items(
        job.id, outcome=ItemOutcome.FAILED, limit=FAILED_ITEMS_SHOWN
    )
    parent_batch = None
    if job.batch_id is not None:
        try:
            parent_batch = await app.get_batch(job.batch_id)
        except BatchNotFound:  # pruned
            parent_batch = None
    child_batches = await app.batches_of(job.id)
    children = {
        batch.id: (await app.batch_jobs(batch.id, limit=CHILDREN_SHOWN)).jobs
        for batch in child_batches[-3:]
    }
    return {
        "job": job,
        "now": now,
        "explanation": explanation,
        "timeline": timeline(job, now=now),
        "actions": allowed_actions(job.state),
        "item_counts": counts,
        "failed_items": failed_items.items,
        "parent_batch": parent_batch,
        "child_batches": child_batches,
        "children": children,
    }
