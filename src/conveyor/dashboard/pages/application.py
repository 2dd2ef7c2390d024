"""The application's own pages (``Conveyor.add_dashboard_page``), served in the
dashboard's layout behind its login, each with a live fragment at ``/partials{path}``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit
from conveyor.page import DashboardPage, PageContext


def router(app: Conveyor, kit: Kit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    for page in app.dashboard_pages:
        _add(pages, kit, page)
    return pages


def _add(pages: APIRouter, kit: Kit, page: DashboardPage) -> None:
    async def body(request: Request) -> Markup:
        viewer = kit.viewer(request)
        context = PageContext(
            query=dict(request.query_params),
            viewer=viewer.name,
            can_write=viewer.role == "admin",
        )
        # The page's render escapes what it shows (see conveyor.page.PageRender).
        return Markup(await page.render(context))

    async def full(request: Request) -> HTMLResponse:
        html = await body(request)
        return kit.render(
            request, "application.html", page=page, body=html, request_query=request.url.query
        )

    async def fragment(request: Request) -> HTMLResponse:
        return kit.render(request, "partials/application.html", body=await body(request))

    pages.add_api_route(page.path, full, methods=["GET"], response_class=HTMLResponse)
    pages.add_api_route(
        f"/partials{page.path}", fragment, methods=["GET"], response_class=HTMLResponse
    )
