"""The job list ``/jobs`` (filters, search, keyset pages), its live rows
``/partials/jobs``, and the bulk retry and cancel of the listed set ``/jobs/bulk``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from conveyor.dashboard.auth import Denied
from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.selection import (
    ACTIONS,
    BULK_LIMIT,
    BadFilter,
    JobQuery,
    apply,
    list_page,
    measure,
)
from conveyor.dashboard.site import Site
from conveyor.errors import ConveyorError
from conveyor.job import JobState

PAGE_SIZE = 50


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    app = site.app

    async def listing(request: Request, template: str) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        query = JobQuery.parse(request.query_params)
        after = _int(request.query_params.get("after"))
        jobs, next_after, problem = [], None, ""
        try:
            found = await list_page(app, query, after=after, limit=PAGE_SIZE)
            jobs, next_after = found.jobs, found.next_after
        except (BadFilter, ConveyorError) as exc:
            problem = str(exc)
        return page(
            request,
            viewer,
            template,
            query=query,
            jobs=jobs,
            after=after,
            next_after=next_after,
            problem=problem,
            states=[s.value for s in JobState],
            task_names=sorted(app.tasks),
            queue_names=sorted({t.options.queue for t in app.tasks.values()}),
            changed=_changed(request),
            now=app.clock.now(),
        )

    @routes.get("/jobs", response_class=HTMLResponse)
    async def jobs(request: Request) -> HTMLResponse:
        return await listing(request, "jobs.html")

    @routes.get("/partials/jobs", response_class=HTMLResponse)
    async def jobs_live(request: Request) -> HTMLResponse:
        return await listing(request, "partials/job_rows.html" if is_htmx(request) else "jobs.html")

    @routes.get("/jobs/bulk", response_class=HTMLResponse)
    async def confirm(request: Request) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        if not viewer.can_act:
            raise Denied(f"token {viewer.principal.name!r} is read-only")
        query = JobQuery.parse(request.query_params)
        action = request.query_params.get("action", "")
        try:
            scope = await measure(app, query, action)
        except (BadFilter, ConveyorError) as exc:
            message = str(exc)
            return page(request, viewer, "problem.html", status=400, message=message)
        return page(
            request,
            viewer,
            "bulk.html",
            query=query,
            action=action,
            scope=scope,
            limit=BULK_LIMIT,
            states=sorted(ACTIONS[action]),
        )

    @routes.post("/jobs/bulk")
    async def bulk(request: Request) -> Response:
        await site.auth.actor(request)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        query = JobQuery.parse(fields)
        action = fields.get("action", "")
        newest_id = _int(fields.get("newest_id"))
        if action not in ACTIONS or newest_id is None:
            raise Denied("the confirmation form is incomplete: start again from the job list")
        try:
            changed = await apply(app, query, action, newest_id=newest_id)
        except (BadFilter, ConveyorError) as exc:
            raise Denied(str(exc)) from None
        target = f"/jobs?{query.query_string(done=action, changed=changed)}"
        return RedirectResponse(target, status_code=303)

    return routes


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit() or int(text) >= 2**63:
        return None
    return int(text)


def _changed(request: Request) -> tuple[str, int] | None:
    """The outcome of the bulk action that redirected here, to say what it did."""
    action = request.query_params.get("done", "")
    changed = _int(request.query_params.get("changed"))
    if action not in ACTIONS or changed is None:
        return None
    return action, changed
