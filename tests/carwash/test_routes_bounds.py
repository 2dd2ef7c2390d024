"""The car-wash routes refuse ids that no 64-bit column can hold with a 422, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from conveyor import Conveyor
from conveyor.api import create_api

HUGE = 2**64 + 1


@pytest.fixture
async def client(make_app: Callable[..., Conveyor]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(make_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize(
    "path",
    [
        f"/api/campaigns/{HUGE}",
        f"/api/customers/{HUGE}/credits",
        f"/api/tenants/{HUGE}/summaries",
        f"/api/campaigns/{-HUGE}",
    ],
)
async def test_an_id_beyond_64_bits_is_422(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 422, answer.text


async def test_an_id_in_range_still_answers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/campaigns/7")).status_code == 404
    credits = await client.get("/api/customers/7/credits")
    assert credits.json() == {"customer_id": 7, "credits": 0, "grants": 0}
