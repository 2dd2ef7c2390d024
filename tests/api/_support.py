"""Payload models, handlers and assertions shared by the HTTP API tests."""

from __future__ import annotations

from typing import Any

import httpx
import pydantic
from pydantic import Field

from conveyor import Conveyor
from tests.contract import JOB_JSON_KEYS

JOB_KEYS = set(JOB_JSON_KEYS)
"""The job JSON keys of DESIGN.md §5, exactly."""

TASK_NAMES = ["explode", "jam", "notify", "wash"]


class Wash(pydantic.BaseModel):
    """A car to wash."""

    plate: str = Field(min_length=1, max_length=20)
    level: int = Field(default=1, ge=1, le=3)
    extras: list[str] = Field(default_factory=list)


class Notify(pydantic.BaseModel):
    message: str


class Boom(pydantic.BaseModel):
    reason: str = "boom"


async def wash(payload: Wash) -> dict[str, Any]:
    """Wash one car."""
    return {"plate": payload.plate, "level": payload.level}


def notify(payload: Notify) -> None:
    """Send a notice."""


async def explode(payload: Boom) -> None:
    """Always fails."""
    raise RuntimeError(payload.reason)


def jam(payload: Boom) -> None:
    """Always fails too, in a thread."""
    raise ValueError(payload.reason)


def register_tasks(app: Conveyor) -> None:
    """The tasks every API test app has."""
    app.task(name="wash", queue="washes")(wash)
    app.task(name="notify", queue="mail", priority=5)(notify)
    app.task(name="explode", max_attempts=1)(explode)
    app.task(name="jam", queue="washes", max_attempts=1)(jam)


def error_of(response: httpx.Response, status: int, code: str | None = None) -> Any:
    """Assert ``response`` is an error of DESIGN.md §5's shape; return its details."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error["details"]


async def enqueue(
    client: httpx.AsyncClient,
    task: str,
    payload: dict[str, Any],
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Enqueue through the API, asserting it answered 202; returns the job JSON."""
    response = await client.post(f"/api/tasks/{task}", json=payload, params=params, headers=headers)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job
