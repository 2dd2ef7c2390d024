"""The dashboard's queues page: depth and lag per queue; pause and resume really change the
store; a read token sees no button and its POST is refused; a form without its CSRF token
is refused."""

from __future__ import annotations

from datetime import timedelta

from tests.api._dashboard import (
    ADMIN,
    HOSTILE,
    READER,
    READER_TOKEN,
    TOKENS,
    assert_escaped,
    csrf_of,
    sign_in,
)
from tests.api.conftest import Api, MakeApi


async def paused(api: Api, name: str) -> bool:
    return {q.name: q.paused for q in await api.app.queues()}[name]


async def test_queues_page_shows_depth_and_lag(api: Api) -> None:
    await api.app.enqueue("wash", {"plate": "A-1"})
    await api.app.enqueue("wash", {"plate": "A-2"})
    await api.app.enqueue("wash", {"plate": "A-3"}, delay=600)
    api.clock.advance(timedelta(seconds=90))

    page = await api.client.get("/queues")

    assert page.status_code == 200
    row = page.text.split('data-queue="washes"', 1)[1].split("</tr>", 1)[0]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[2:5] == ["3", "2", "0"]  # depth, available, retrying
    assert "1m 30s" in row  # the lag: the oldest due job waited 90 s
    assert 'hx-get="/partials/queues"' in page.text
    fragment = await api.client.get("/partials/queues", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-queue="washes"' in fragment.text


async def test_pause_and_resume_change_the_queue_in_the_store(api: Api) -> None:
    page = await api.client.get("/queues")
    token = csrf_of(page)

    done = await api.client.post("/queues/pause", data={"queue": "washes", "csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/queues"
    assert await paused(api, "washes")
    shown = await api.client.get("/queues")
    assert 'action="/queues/resume"' in shown.text.split('data-queue="washes"', 1)[1]

    await api.client.post("/queues/resume", data={"queue": "washes", "csrf": token})
    assert not await paused(api, "washes")


async def test_a_form_without_its_csrf_token_is_refused(api: Api) -> None:
    missing = await api.client.post("/queues/pause", data={"queue": "washes"})
    forged = await api.client.post("/queues/pause", data={"queue": "washes", "csrf": "0" * 64})
    assert missing.status_code == 403 and forged.status_code == 403
    assert not await paused(api, "washes")


async def test_a_read_token_sees_no_buttons_and_its_post_is_refused(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    await sign_in(api.client, READER_TOKEN)

    page = await api.client.get("/queues")
    assert page.status_code == 200 and "washes" in page.text
    assert "<button" not in page.text.split("<main>", 1)[1]  # only the header's log-out
    assert 'action="/queues/pause"' not in page.text

    for headers in ({}, READER):  # the session with its CSRF token, and the bearer token
        refused = await api.client.post(
            "/queues/pause", data={"queue": "washes", "csrf": csrf_of(page)}, headers=headers
        )
        assert refused.status_code == 403
    assert not await paused(api, "washes")
    admin = await api.client.get("/queues", headers=ADMIN)
    assert 'action="/queues/pause"' in admin.text


async def test_without_credentials_no_queue_is_shown(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    for path in ("/queues", "/partials/queues"):
        anonymous = await api.client.get(path)
        assert anonymous.status_code in (303, 401) and "washes" not in anonymous.text
    refused = await api.client.post("/queues/pause", data={"queue": "washes"})
    assert refused.status_code == 401
    assert not await paused(api, "washes")


async def test_queue_names_are_escaped(api: Api) -> None:
    await api.app.pause_queue(HOSTILE)
    for path in ("/queues", "/"):
        page = await api.client.get(path)
        assert_escaped(page.text)
