"""The dashboard's overview page: served at /, gated by the API's tokens."""

from __future__ import annotations

from tests.api.conftest import Api, MakeApi

READER_TOKEN = "r" * 20
TOKENS = f"reader:read:{READER_TOKEN}"


async def test_overview_renders_without_tokens_configured(api: Api) -> None:
    response = await api.client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "<h1>Overview</h1>" in response.text
    assert '<script src="/static/htmx.min.js">' in response.text


async def test_overview_needs_a_token_when_tokens_are_configured(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    refused = await api.client.get("/")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login"
    assert "<table>" not in refused.text
    allowed = await api.client.get("/", headers={"Authorization": f"Bearer {READER_TOKEN}"})
    assert allowed.status_code == 200
    assert "<table>" in allowed.text


async def test_the_static_files_are_served(api: Api) -> None:
    htmx = await api.client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text
    css = await api.client.get("/static/dashboard.css")
    assert css.status_code == 200


def test_overview_escapes_markup_in_queue_names() -> None:
    from conveyor.dashboard.render import render
    from conveyor.queue import QUEUE_COUNTED_STATES, QueueInfo

    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    queue = QueueInfo.empty(hostile)
    html = render("partials/overview.html", queues=[queue], states=QUEUE_COUNTED_STATES)
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
