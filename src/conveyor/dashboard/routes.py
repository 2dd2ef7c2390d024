"""dashboard_router: the dashboard's pages, rendered with autoescaping Jinja2 templates."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from conveyor.api.auth import Authenticator
from conveyor.app import Conveyor

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def dashboard_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    """The dashboard pages; every page needs a reader token when tokens are configured."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        auth.reader(request)
        counts = await app.counts()
        html = _templates.get_template("overview.html").render(counts=counts)
        return HTMLResponse(html)

    return router
