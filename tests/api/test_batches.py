"""The batch listing endpoint: newest first, keyset pages, the unfinished filter, limits."""

from __future__ import annotations

from conveyor.testing import drain
from tests.api.conftest import Api


async def test_batches_list_newest_first_in_pages_and_filters_unfinished(api: Api) -> None:
    done = await api.app.enqueue_batch("wash", [{"plate": "A"}])
    waiting = [await api.app.enqueue_batch("notify", [{"message": "m"}]) for _ in range(2)]
    await drain(api.app, queues=["washes"])

    first = (await api.client.get("/api/batches", params={"limit": 2})).json()
    after = first["next_after"]
    rest = (await api.client.get("/api/batches", params={"after": after})).json()
    unfinished = (await api.client.get("/api/batches", params={"unfinished": "true"})).json()
    bad = await api.client.get("/api/batches", params={"limit": 0})

    assert [b["id"] for b in first["batches"]] == [waiting[1].id, waiting[0].id]
    assert after == waiting[0].id
    assert [b["id"] for b in rest["batches"]] == [done.id] and rest["next_after"] is None
    assert rest["batches"][0]["progress"] == {"done": 1, "total": 1}
    assert [b["id"] for b in unfinished["batches"]] == [waiting[1].id, waiting[0].id]
    assert bad.status_code == 422
