"""dashboard_router: every dashboard page, rendered with autoescaping Jinja2 templates.

Each page group is its own router module under ``conveyor.dashboard.pages``; each page has
a live fragment under ``/partials/`` that htmx polls to update it in place.
"""

from __future__ import annotations

from fastapi import APIRouter

from conveyor.api.auth import Authenticator
from conveyor.app import Conveyor
from conveyor.dashboard.kit import Kit
from conveyor.dashboard.pages import application, batches, overview, queues, schedules, workers

PAGE_GROUPS = (overview, queues, schedules, workers, batches, application)


def dashboard_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    """The dashboard pages; every page needs a reader token when tokens are configured,
    and every action an admin token and the form's CSRF token."""
    kit = Kit(app, auth)
    router = APIRouter(include_in_schema=False)
    for group in PAGE_GROUPS:
        router.include_router(group.router(app, kit))
    return router
