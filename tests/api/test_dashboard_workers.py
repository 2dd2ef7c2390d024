"""The dashboard's workers page: host, pid, queues, executors now and at most, running
jobs and heartbeat age; a silent worker is not counted live."""

from __future__ import annotations

from datetime import timedelta

from tests.api._dashboard import HOSTILE, assert_escaped
from tests.api.conftest import Api


async def register(api: Api, worker_id: str, host: str, *, running: int = 0) -> None:
    store = await api.app.store()
    now = api.clock.now()
    await store.register_worker(
        worker_id=worker_id, host=host, pid=4242, queues=["washes", "mail"], concurrency=10,
        now=now,
    )  # fmt: skip
    await store.heartbeat_worker(
        worker_id=worker_id, executors=3, running=running, completed=17, state="running", now=now
    )


async def test_workers_page_shows_each_worker(api: Api) -> None:
    await register(api, "w-1", "wash-01", running=2)
    api.clock.advance(timedelta(seconds=12))

    page = await api.client.get("/workers")

    assert page.status_code == 200
    row = page.text.split('<tr class="live">', 1)[1].split("</tr>", 1)[0]
    assert "wash-01" in row and '<td class="num">4242</td>' in row
    assert ">washes</a>, <a" in row and ">mail</a>" in row
    assert "3 / 10" in row and "12s ago" in row and ">2</a>" in row
    assert "1 live of 1 registered" in page.text
    overview = await api.client.get("/")
    assert "1 live worker, 3 executors, 2 jobs running" in overview.text


async def test_a_silent_worker_is_not_live(api: Api) -> None:
    await register(api, "w-1", "wash-01")
    api.clock.advance(timedelta(seconds=10 * api.app.settings.lease_ttl_seconds))

    page = await api.client.get("/workers")

    assert "0 live of 1 registered" in page.text
    assert '<tr class="gone">' in page.text and "silent" in page.text
    assert "0 live workers" in (await api.client.get("/")).text


async def test_worker_hosts_are_escaped(api: Api) -> None:
    await register(api, "w-1", HOSTILE)
    assert_escaped((await api.client.get("/workers")).text)
