"""An application's own dashboard pages (``app.add_dashboard_page``): served in the
dashboard's layout with a nav entry, behind its login, told whether the viewer may act."""

from __future__ import annotations

import pytest
from markupsafe import escape

from conveyor import ConfigurationError, Conveyor, PageContext
from tests.api._dashboard import ADMIN, READER, TOKENS
from tests.api.conftest import MakeApi, client_for


async def render(context: PageContext) -> str:
    who = escape(context.viewer)
    shown = escape(context.query.get("show", "-"))
    action = "<button>Act</button>" if context.can_act else ""
    return f'<p class="who">{who}</p><p class="show">{shown}</p>{action}'


async def test_an_app_page_is_served_in_the_layout_behind_the_login(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    api.app.add_dashboard_page("/fleet", "Fleet", render, refresh_seconds=10)
    from conveyor.api import create_api

    client = client_for(create_api(api.app))
    try:
        anonymous = await client.get("/fleet")
        assert (
            anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=%2Ffleet"
        )
        page = await client.get("/fleet?show=%3Cb%3Ex", headers=ADMIN)
        assert page.status_code == 200
        assert '<a href="/fleet" class="current">Fleet</a>' in page.text  # nav entry
        assert '<p class="who">ops</p>' in page.text and "<button>Act</button>" in page.text
        assert "&lt;b&gt;x" in page.text  # the page escaped the query
        assert 'hx-get="/partials/fleet?show=%3Cb%3Ex" hx-trigger="every 10s"' in page.text
        read = await client.get("/partials/fleet", headers={**READER, "HX-Request": "true"})
        assert read.status_code == 200 and "<html" not in read.text
        assert '<p class="who">viewer</p>' in read.text and "<button" not in read.text
        overview = await client.get("/", headers=READER)
        assert '<a href="/fleet">Fleet</a>' in overview.text  # on every page's nav
    finally:
        await client.aclose()


@pytest.mark.parametrize("path", ["/queues", "/", "fleet", "/Fleet", "/a/b", "/partials"])
def test_a_page_cannot_take_a_dashboard_path_or_a_malformed_one(path: str) -> None:
    app = Conveyor("sqlite:///:memory:")
    with pytest.raises(ConfigurationError):
        app.add_dashboard_page(path, "Mine", render)


def test_a_path_is_added_once() -> None:
    app = Conveyor("sqlite:///:memory:")
    app.add_dashboard_page("/fleet", "Fleet", render)
    with pytest.raises(ConfigurationError):
        app.add_dashboard_page("/fleet", "Fleet again", render)
