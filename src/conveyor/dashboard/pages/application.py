"""The application's own pages (``Conveyor.add_dashboard_page``), served in the
dashboard's layout behind its login, each with a live fragment at ``/partials{path}``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from conveyor.dashboard.render import is_htmx, page
from conveyor.dashboard.site import Site
from conveyor.page import DashboardPage, PageContext


def router(site: Site) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    for added in site.app.dashboard_pages:
        _add(routes, site, added)
    return routes


def _add(routes: APIRouter, site: Site, added: DashboardPage) -> None:
    async def show(request: Request, template: str) -> HTMLResponse:
        viewer = site.auth.viewer(request)
        context = PageContext(
            query=dict(request.query_params),
            viewer=viewer.principal.name,
            can_act=viewer.can_act,
        )
        # The page's render escapes what it shows (see conveyor.page.PageRender).
        body = Markup(await added.render(context))
        return page(request, viewer, template, added=added, body=body)

    async def full(request: Request) -> HTMLResponse:
        return await show(request, "application.html")

    async def live(request: Request) -> HTMLResponse:
        template = "partials/application.html" if is_htmx(request) else "application.html"
        return await show(request, template)

    routes.add_api_route(added.path, full, methods=["GET"], response_class=HTMLResponse)
    routes.add_api_route(
        f"/partials{added.path}", live, methods=["GET"], response_class=HTMLResponse
    )
