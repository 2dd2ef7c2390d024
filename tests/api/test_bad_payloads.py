"""Payloads the database cannot hold are 422s before anything is stored, on both stores."""

from __future__ import annotations

import json
from typing import Any

import pydantic

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api.conftest import client_for


class Reading(pydantic.BaseModel):
    value: float
    extra: Any = None


async def record(payload: Reading) -> None:
    """Store a reading."""


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def post_raw(store_url: str, body: str) -> tuple[int, str, int]:
    app = Conveyor(store_url)
    app.task(name="record")(record)
    async with client_for(create_api(app)) as client:
        answer = await client.post(
            "/api/tasks/record", content=body, headers={"content-type": "application/json"}
        )
        listed = await client.get("/api/jobs")
    await app.close()
    assert listed.status_code == 200, listed.text
    return answer.status_code, answer.text, len(listed.json()["jobs"])


async def test_infinity_in_a_float_field_is_422_and_stores_nothing(store_url: str) -> None:
    status, text, stored = await post_raw(store_url, '{"value": Infinity}')
    assert (status, stored) == (422, 0), text


async def test_a_lone_surrogate_in_a_key_is_422_and_stores_nothing(store_url: str) -> None:
    status, text, stored = await post_raw(store_url, '{"value": 1, "extra": {"\\ud800": 1}}')
    assert (status, stored) == (422, 0), text


async def test_deeply_nested_json_is_422_and_stores_nothing(store_url: str) -> None:
    body = json.dumps({"value": 1})[:-1] + ', "extra": ' + nested(450) + "}"
    status, text, stored = await post_raw(store_url, body)
    assert (status, stored) == (422, 0), text
    assert "postgresql://" not in text and "sqlite:" not in text
