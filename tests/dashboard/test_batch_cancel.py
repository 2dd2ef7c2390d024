"""The batch page's Cancel button, in process on both stores: offered only while children
are unfinished, its confirmation counts them, it needs CSRF, and a read token neither sees
it nor may post it."""

from __future__ import annotations

import html
import re

from conveyor import JobState
from conveyor.batches import Batch
from conveyor.testing import drain
from tests.api.conftest import Api, MakeApi
from tests.dashboard.conftest import ADMIN_TOKEN, READER_TOKEN, TOKENS
from tests.dashboard.test_auth import csrf_of, log_in

READER = {"Authorization": f"Bearer {READER_TOKEN}"}


async def batch_with_one_done(api: Api, children: int = 4) -> Batch:
    """A batch of ``children`` jobs of which the first has completed."""
    batch = await api.app.enqueue_batch("notify", [{"message": str(n)} for n in range(children)])
    assert await drain(api.app, max_jobs=1) == 1
    return await api.app.get_batch(batch.id)


def confirmation(page: str) -> str:
    found = re.search(r'hx-confirm="([^"]*)"', page)
    assert found is not None, "the cancel form asks for no confirmation"
    return html.unescape(found.group(1))


async def states_of(api: Api, batch: Batch) -> list[JobState]:
    return [j.state for j in (await api.app.batch_jobs(batch.id)).jobs]


async def test_cancel_is_offered_with_the_unfinished_count_and_cancels_them(api: Api) -> None:
    batch = await batch_with_one_done(api)
    assert batch.pending == 3
    page = (await api.client.get(f"/batches/{batch.id}")).text
    assert f'action="/batches/{batch.id}/cancel"' in page
    assert "Cancel 3 unfinished jobs" in page
    assert confirmation(page).startswith(f"Cancel the 3 unfinished jobs of batch #{batch.id}?")

    refused = await api.client.post(f"/batches/{batch.id}/cancel")  # no CSRF token
    assert refused.status_code == 403
    assert (await api.app.get_batch(batch.id)).pending == 3

    done = await api.client.post(f"/batches/{batch.id}/cancel", data={"csrf": csrf_of(page)})
    assert done.status_code == 303 and done.headers["location"] == f"/batches/{batch.id}"
    assert await states_of(api, batch) == [JobState.COMPLETED] + [JobState.CANCELLED] * 3
    after = (await api.client.get(f"/batches/{batch.id}")).text
    assert 'id="batch-actions"' not in after
    assert f'action="/batches/{batch.id}/cancel"' not in after


async def test_cancelling_a_finished_batch_is_refused_and_htmx_sees_why(api: Api) -> None:
    batch = await api.app.enqueue_batch("notify", [{"message": "only"}])
    await drain(api.app)
    page = (await api.client.get(f"/batches/{batch.id}")).text
    assert 'id="batch-actions"' not in page
    header = re.search(r'"X-CSRF-Token": "([^"]*)"', page)  # the page's htmx header
    assert header is not None
    csrf = {"X-CSRF-Token": header.group(1)}
    refused = await api.client.post(f"/batches/{batch.id}/cancel", headers=csrf)
    assert refused.status_code == 409
    swapped = await api.client.post(
        f"/batches/{batch.id}/cancel", headers={**csrf, "HX-Request": "true"}
    )
    assert swapped.status_code == 200 and "<html" not in swapped.text
    assert 'id="batch-problem"' in swapped.text
    assert await states_of(api, batch) == [JobState.COMPLETED]
    missing = await api.client.post("/batches/999999/cancel", headers=csrf)
    assert missing.status_code == 404


async def test_an_htmx_cancel_answers_the_batch_fragment(api: Api) -> None:
    batch = await batch_with_one_done(api, children=2)
    page = (await api.client.get(f"/batches/{batch.id}")).text
    assert "Cancel 1 unfinished job<" in page
    assert confirmation(page).startswith(f"Cancel the 1 unfinished job of batch #{batch.id}?")
    fragment = await api.client.post(
        f"/batches/{batch.id}/cancel",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page)},
    )
    assert fragment.status_code == 200
    assert 'id="batch-live"' in fragment.text and "<html" not in fragment.text
    assert "1 cancelled" in fragment.text and 'id="batch-actions"' not in fragment.text


async def test_a_read_token_sees_no_cancel_and_its_post_answers_403(make_api: MakeApi) -> None:
    api = await make_api(api_token=TOKENS)
    batch = await batch_with_one_done(api)
    await log_in(api.client, READER_TOKEN)
    page = await api.client.get(f"/batches/{batch.id}")
    assert page.status_code == 200 and "3 pending" in page.text
    assert 'id="batch-actions"' not in page.text
    assert f'action="/batches/{batch.id}/cancel"' not in page.text
    csrf = csrf_of(page.text)  # the logout form's: a valid token of this session
    posted = await api.client.post(f"/batches/{batch.id}/cancel", data={"csrf": csrf})
    assert posted.status_code == 403
    bearer = await api.client.post(f"/batches/{batch.id}/cancel", headers=READER)
    assert bearer.status_code == 403
    assert (await api.app.get_batch(batch.id)).pending == 3
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (
        'id="batch-actions"' in (await api.client.get(f"/batches/{batch.id}", headers=admin)).text
    )
