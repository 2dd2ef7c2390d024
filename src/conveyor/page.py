"""DashboardPage: an application's own page in the dashboard, and what its render sees.

The types of ``Conveyor.add_dashboard_page``; nothing here imports a web framework, so an
app that adds a page still loads in a worker without the ``api`` extra.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from conveyor.errors import ConfigurationError

# The dashboard's own URLs (and the API's): an application page may not shadow them.
RESERVED = frozenset(
    {"", "jobs", "queues", "schedules", "workers", "batches", "partials", "static", "login",
     "logout", "api", "health", "metrics", "docs", "openapi.json", "redoc"}
)  # fmt: skip
PATH = re.compile(r"^/[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a page's ``render`` is given for one request.

    ``query``: the request's query parameters (the first value of each). ``viewer``: the
    name of the token behind the request (``anonymous`` without tokens). ``can_act``:
    whether that token may act (an admin token); a page shows no action for a read token.
    """

    query: Mapping[str, str] = field(default_factory=dict)
    viewer: str = "anonymous"
    can_act: bool = False


PageRender = Callable[[PageContext], Awaitable[str]]
"""Returns the page's body as an HTML fragment. The dashboard puts it in its layout as
markup, so ``render`` escapes what it shows (render with an autoescaping Jinja2 template,
or ``markupsafe.escape`` each value)."""


@dataclass(frozen=True, slots=True)
class DashboardPage:
    """An application page: a nav entry ``title`` linking to ``path`` (one segment, such
    as ``/campaigns``), whose body ``render`` returns. The dashboard serves it with its
    own layout and login; with ``refresh_seconds`` (default 5 s; ``None``: never) the body
    is re-rendered in place that often, from ``/partials{path}``."""

    path: str
    title: str
    render: PageRender
    refresh_seconds: float | None = 5.0

    def __post_init__(self) -> None:
        if not PATH.match(self.path) or self.path[1:] in RESERVED:
            raise ConfigurationError(
                f"dashboard page path {self.path!r} must be one lower-case segment such as "
                "'/campaigns', and not one of the dashboard's own"
            )
        if not self.title.strip():
            raise ConfigurationError("a dashboard page needs a title for its nav entry")
        if self.refresh_seconds is not None and self.refresh_seconds < 1:
            raise ConfigurationError("refresh_seconds must be at least 1 (or None)")
