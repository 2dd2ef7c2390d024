"""The server-rendered web dashboard over one Conveyor app (Jinja2 + vendored htmx).

``install_dashboard`` adds its pages, the static files and its sign-in to the API's
FastAPI application. Each page group is a module of ``conveyor.dashboard.pages`` that
builds a router from a ``Site``; pages reach jobs only through the app facade.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from conveyor.api.auth import Authenticator
from conveyor.app import Conveyor
from conveyor.dashboard.auth import DashboardAuth, Denied, LoginRequired
from conveyor.dashboard.pages import (
    application,
    batches,
    job,
    jobs,
    overview,
    queues,
    schedules,
    session,
    workers,
)
from conveyor.dashboard.render import NAV, STATIC, is_htmx, render
from conveyor.dashboard.site import Site

# /jobs/bulk before /jobs/{job_id}: the first route whose path matches answers.
PAGE_GROUPS = (session, overview, jobs, job, queues, schedules, workers, batches, application)


def install_dashboard(api: FastAPI, app: Conveyor, auth: Authenticator) -> Site:
    """Serve the dashboard from ``api``: pages at ``/``, ``/jobs``, ..., static files
    under ``/static``. Returns the ``Site`` further page groups are built from."""
    site = Site(app=app, auth=DashboardAuth(auth))
    # The application's pages (app.add_dashboard_page) follow the built-in ones in the nav.
    api.state.dashboard_nav = [*NAV, *((p.path, p.title) for p in app.dashboard_pages)]
    api.mount("/static", StaticFiles(directory=STATIC), name="dashboard-static")
    for group in PAGE_GROUPS:
        api.include_router(group.router(site))
    api.add_exception_handler(LoginRequired, _login_required)
    api.add_exception_handler(Denied, _denied)
    return site


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = "/login" if exc.next_path == "/" else f"/login?next={quote(exc.next_path, safe='')}"
    if is_htmx(request):
        # A polled fragment whose session ended: htmx follows this header with a full load.
        return Response(status_code=401, headers={"HX-Redirect": target})
    if request.method != "GET":
        html = render("denied.html", title="Not signed in", message="Log in first.")
        return HTMLResponse(html, status_code=401)
    return RedirectResponse(target, status_code=303)


async def _denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Denied)
    html = render("denied.html", title="Not allowed", message=exc.message)
    return HTMLResponse(html, status_code=403)
