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


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{% for i in range(10**9) %}{% endfor %}", "range"),
        (
            "{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}",
            "loop",
        ),
        ("{{ 'x' * 10**9 }}", "repeat"),
        ("{% for i in range(5000) %}{{ 'y' * 5000 }}{% endfor %}", "output"),
    ],
)
async def test_a_template_beyond_its_limits_is_refused_with_422(
    client: httpx.AsyncClient, body: str, reason: str
) -> None:
    answer = await client.post(
        "/api/tasks/email.send_campaign",
        json={"tenant_id": 1, "subject": "Hi", "body": body},
    )
    assert answer.status_code == 422, answer.text
    assert "template" in answer.text


async def test_an_ordinary_template_is_accepted(client: httpx.AsyncClient) -> None:
    body = "{% for i in range(3) %}{{ customer.name }} {% endfor %}{{ 'ab' * 3 }}"
    answer = await client.post(
        "/api/tasks/email.send_campaign",
        json={"tenant_id": 1, "subject": "Hi", "body": body},
    )
    assert answer.status_code < 300, answer.text
