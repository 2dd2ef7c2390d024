"""Property-based: requests generated from the OpenAPI document never get a 5xx answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api._support import register_tasks


def _build(url: str) -> tuple[Conveyor, FastAPI]:
    app = Conveyor(url, api_token=None)
    register_tasks(app)
    return app, create_api(app)


# The cases are generated from the document of an API whose store never opens (serving
# /openapi.json needs no database); each test calls an identical API on a fresh database.
schema = schemathesis.openapi.from_asgi("/openapi.json", _build("sqlite:///unused.db")[1])


@pytest.fixture
def live_api(sqlite_url: str) -> Iterator[FastAPI]:
    """Synchronous on purpose: schemathesis calls an ASGI app through Starlette's test
    client, which runs the app on an event loop of its own."""
    app, api = _build(sqlite_url)
    yield api
    asyncio.run(app.close())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error(
    case: schemathesis.Case, live_api: FastAPI
) -> None:
    response = case.call(app=live_api)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}: "
        f"{response.status_code} {response.text[:500]}"
    )
