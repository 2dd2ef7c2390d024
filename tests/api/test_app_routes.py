"""An application's own routes (``app.add_api_router``): a router, or a function that
builds it only when the API is built."""

from __future__ import annotations

from fastapi import APIRouter

from conveyor import Conveyor
from conveyor.api import create_api
from tests.api.conftest import client_for


def greeting_router(word: str) -> APIRouter:
    router = APIRouter()

    @router.get(f"/api/{word}")
    async def greet() -> dict[str, str]:
        return {"said": word}

    return router


async def test_a_router_and_a_router_factory_are_both_served(store_url: str) -> None:
    app = Conveyor(store_url)
    built: list[str] = []

    def lazily() -> APIRouter:
        built.append("hello")
        return greeting_router("hello")

    app.add_api_router(greeting_router("hi"))
    app.add_api_router(lazily)
    assert built == []  # not called until the API is built

    api = create_api(app)
    assert built == ["hello"]
    async with client_for(api) as client:
        answers = [(await client.get(f"/api/{word}")).json() for word in ("hi", "hello")]
    await app.close()
    assert answers == [{"said": "hi"}, {"said": "hello"}]
