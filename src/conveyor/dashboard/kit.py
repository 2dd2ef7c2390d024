"""Kit: what every dashboard page router shares — the template environment, the viewer of
a request, the write check of a form, and rendering a page or its live fragment."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from conveyor.api.auth import Authenticator, Principal
from conveyor.app import Conveyor
from conveyor.dashboard import format as fmt

REFRESH_SECONDS = 5


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters.update(age=fmt.age, moment=fmt.moment, count=fmt.count)
    return env


@dataclass(frozen=True, slots=True)
class NavEntry:
    path: str
    title: str


BUILT_IN_NAV = (
    NavEntry("/", "Overview"),
    NavEntry("/jobs", "Jobs"),
    NavEntry("/queues", "Queues"),
    NavEntry("/schedules", "Schedules"),
    NavEntry("/workers", "Workers"),
    NavEntry("/batches", "Batches"),
)


class Kit:
    """Rendering and access checks for the pages of one dashboard."""

    def __init__(self, app: Conveyor, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth
        self.templates = environment()

    @property
    def nav(self) -> list[NavEntry]:
        extra = [NavEntry(p.path, p.title) for p in self.app.dashboard_pages]
        return [*BUILT_IN_NAV, *extra]

    def viewer(self, request: Request) -> Principal:
        """Who is looking; 401 without valid credentials."""
        return self.auth.reader(request)

    def csrf_token(self, request: Request, viewer: Principal) -> str:
        return hmac.new(b"conveyor-dashboard", viewer.name.encode(), "sha256").hexdigest()

    async def writer(self, request: Request) -> dict[str, str]:
        """The posted form, once the viewer may act (403 for a read token) and the form
        carries the viewer's CSRF token (403 otherwise)."""
        viewer = self.auth.admin(request)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        expected = self.csrf_token(request, viewer)
        if not hmac.compare_digest(form.get("csrf_token", ""), expected):
            raise HTTPException(403, "the form's CSRF token is missing or wrong")
        return form

    def render(self, request: Request, template: str, **context: Any) -> HTMLResponse:
        """``template`` with the viewer, the nav and the CSRF token; a template that
        extends ``base.html`` is a page, one under ``partials/`` a live fragment."""
        viewer = self.viewer(request)
        html = self.templates.get_template(template).render(
            viewer=viewer,
            can_write=viewer.role == "admin",
            csrf_token=self.csrf_token(request, viewer),
            nav=self.nav,
            current=request.url.path,
            refresh_seconds=REFRESH_SECONDS,
            **context,
        )
        return HTMLResponse(html)

    @staticmethod
    def back(path: str) -> RedirectResponse:
        """After an action: the page again (303, so a reload does not post twice)."""
        return RedirectResponse(path, status_code=303)
