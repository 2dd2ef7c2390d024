"""Rendering dashboard pages: the Jinja2 environment (autoescaping everything), its
filters, the navigation, and the responses that carry a viewer's session cookie.

Every value reaches the HTML escaped: payloads, results, errors and task names are data
from users and handlers, so no template marks them ``|safe``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from conveyor.dashboard import format as fmt
from conveyor.dashboard.auth import SESSION_COOKIE, Viewer, set_cookie

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

NAV: list[tuple[str, str]] = [
    ("/", "Overview"),
    ("/jobs", "Jobs"),
    ("/queues", "Queues"),
    ("/schedules", "Schedules"),
    ("/workers", "Workers"),
    ("/batches", "Batches"),
]
"""The links in every page's header: (path, label). Applications' pages are added after."""


def pretty(value: Any) -> str:
    """JSON indented for people; plain text, so the template escapes it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def when(moment: datetime | None) -> str:
    """A moment in UTC to the second, or an em dash."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or, negative, how far ahead) ``moment`` is, in the largest unit."""
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = f"{seconds / size:.0f} {unit}"
            break
    else:
        amount = f"{seconds:.0f} s"
    return f"in {amount}" if future else f"{amount} ago"


def percent(done: int, total: int | None) -> int:
    """Progress as a whole percentage in 0..100 (0 when the total is unknown)."""
    if not total or total <= 0:
        return 0
    return max(0, min(100, round(100 * done / total)))


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(
    pretty=pretty, when=when, ago=ago, age=fmt.age, moment=fmt.moment, count=fmt.count
)
templates.globals.update(percent=percent)


def render(template: str, **context: Any) -> str:
    return templates.get_template(template).render(**context)


def page(
    request: Request, viewer: Viewer, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A full page (or a fragment: the template decides) for ``viewer``, setting the
    session cookie a first visit was given."""
    html = render(
        template,
        request=request,
        viewer=viewer,
        nav=getattr(request.app.state, "dashboard_nav", NAV),
        path=request.url.path,
        **context,
    )
    # Job data must not outlive a logout in the browser's cache.
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if viewer.new_cookie is not None:
        set_cookie(response, request, SESSION_COOKIE, viewer.new_cookie)
    return response


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then swaps a fragment into the page)."""
    return request.headers.get("hx-request") == "true"
