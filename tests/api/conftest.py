"""Fixtures for the HTTP API tests: a Conveyor app and its API per test, on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.clock import FrozenClock
from tests.api._support import register_tasks

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Api:
    """One Conveyor app, the API built over it, and an HTTP client talking to the API."""

    app: Conveyor
    http: FastAPI
    client: httpx.AsyncClient
    clock: FrozenClock


MakeApi = Callable[..., Awaitable[Api]]


def client_for(api: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def make_api(store_url: str, clock: FrozenClock) -> AsyncIterator[MakeApi]:
    """Builds an app with the shared tasks on a fresh database, then its API and a client;
    closes them all after the test."""
    made: list[Api] = []

    async def make(
        *,
        api_token: str | None = None,
        expect_workers: bool = False,
        max_body_bytes: int | None = None,
    ) -> Api:
        app = Conveyor(store_url, clock=clock, api_token=api_token)
        register_tasks(app)
        if max_body_bytes is None:
            http = create_api(app, expect_workers=expect_workers)
        else:
            http = create_api(app, expect_workers=expect_workers, max_body_bytes=max_body_bytes)
        built = Api(app, http, client_for(http), clock)
        made.append(built)
        return built

    yield make
    for built in made:
        await built.client.aclose()
        await built.app.close()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    """The API without auth, over the shared tasks."""
    return await make_api()
