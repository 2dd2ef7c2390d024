"""The dashboard's batch pages: counts, parent and children, the callback's state."""

from __future__ import annotations

from tests.api._dashboard import HOSTILE, assert_escaped
from tests.api.conftest import Api


async def test_batches_list_and_detail_show_counts_children_and_callback(api: Api) -> None:
    batch = await api.app.enqueue_batch(
        "wash", [{"plate": f"B-{n}"} for n in range(3)], callback="notify",
        callback_payload={"message": "done"},
    )  # fmt: skip
    children = (await api.app.batch_jobs(batch.id)).jobs
    await api.app.cancel(children[0].id)

    listing = await api.client.get("/batches")
    assert listing.status_code == 200
    assert f'href="/batches/{batch.id}"' in listing.text
    assert "1/3 final: 0 completed, 0 failed, 1 cancelled, 2 pending" in listing.text
    unfinished = await api.client.get("/batches?unfinished=true")
    assert f'href="/batches/{batch.id}"' in unfinished.text

    page = await api.client.get(f"/batches/{batch.id}")
    assert page.status_code == 200
    for child in children:
        assert f'href="/jobs/{child.id}"' in page.text
    assert "notify: enqueued once every child is final" in page.text
    assert "none: enqueued directly" in page.text
    assert f'hx-get="/partials/batches/{batch.id}"' in page.text  # live while unfinished

    for child in children[1:]:
        await api.app.cancel(child.id)
    done = await api.client.get(f"/batches/{batch.id}")
    finished = await api.app.get_batch(batch.id)
    assert finished.callback_job_id is not None
    assert f'href="/jobs/{finished.callback_job_id}"' in done.text
    assert ">available</span>" in done.text.split("Callback", 1)[1]  # the callback's state


async def test_a_batch_made_by_a_job_links_its_parent(api: Api) -> None:
    parent = await api.app.enqueue("notify", {"message": "parent"})
    batch = await api.app.enqueue_batch("wash", [{"plate": "P-1"}], parent_id=parent.id)
    page = await api.client.get(f"/batches/{batch.id}")
    assert f'href="/jobs/{parent.id}"' in page.text and "notify" in page.text


async def test_an_unknown_batch_is_404(api: Api) -> None:
    assert (await api.client.get("/batches/999999")).status_code == 404
    assert (await api.client.get("/batches/0")).status_code == 422


async def test_batch_keys_and_task_names_are_escaped(api: Api) -> None:
    batch = await api.app.enqueue_batch("wash", [{"plate": "E-1"}], idempotency_key=HOSTILE)
    assert_escaped((await api.client.get("/batches")).text)
    assert_escaped((await api.client.get(f"/batches/{batch.id}")).text)
