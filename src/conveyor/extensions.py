"""Extensions: how an application adds its own parts to Conveyor's (HTTP routes, schema
migrations, companion services, dashboard pages); a base of ``Conveyor``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.page import DashboardPage, PageRender

if TYPE_CHECKING:
    from conveyor.app import Conveyor

ServiceFactory = Callable[["Conveyor"], AbstractAsyncContextManager[Any]]


class Extensions:
    """The application's additions, kept until the API, ``serve`` or ``migrate`` use them."""

    def __init__(self) -> None:
        self.api_routers: list[Any] = []
        self.migration_steps: list[Callable[[str], Any]] = []
        self.services: list[ServiceFactory] = []
        self.dashboard_pages: list[DashboardPage] = []

    def add_api_router(self, router: Any) -> None:
        """Serve an application's own FastAPI ``APIRouter`` in the HTTP API that
        ``create_api`` builds (add it before). Its routes answer errors in the API's JSON
        shape and take auth from ``conveyor.api.require_reader`` / ``require_admin``.
        ``router`` may also be a function of no arguments that returns the router: it is
        called only when the API is built, so a CLI command or a worker that loads the
        app never imports FastAPI (or whatever the routes need)."""
        self.api_routers.append(router)

    def add_migration(self, step: Callable[[str], Any]) -> None:
        """Run ``step(database_url)`` (sync, or a coroutine function) after the engine's
        own migrations, in ``app.migrate()`` (``conveyor migrate``) and when the store opens
        with ``auto_migrate``: an application's tables migrate with the queue's. A step
        must be idempotent (a no-op when its schema is current)."""
        self.migration_steps.append(step)

    def add_service(self, factory: ServiceFactory) -> None:
        """A companion that ``conveyor serve`` runs for as long as it serves:
        ``factory(app)`` gives an async context manager entered before the API starts and
        exited after it stopped (e.g. a local mail sink for a demo)."""
        self.services.append(factory)

    def add_dashboard_page(
        self,
        path: str,
        title: str,
        render: PageRender,
        *,
        refresh_seconds: float | None = 5.0,
    ) -> DashboardPage:
        """Add a page to the dashboard: a nav entry ``title`` linking to ``path`` (e.g.
        ``"/campaigns"``), whose body ``await render(PageContext)`` returns as an HTML
        fragment (escaped by ``render``), shown in the dashboard's layout behind its login
        and refreshed in place every ``refresh_seconds``. See ``conveyor.page``. Raises
        ``ConfigurationError`` for a path the dashboard uses or one already added."""
        page = DashboardPage(path, title, render, refresh_seconds)
        if any(p.path == path for p in self.dashboard_pages):
            raise ConfigurationError(f"a dashboard page at {path!r} is already added")
        self.dashboard_pages.append(page)
        return page
