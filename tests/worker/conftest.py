"""Fixtures for the worker tests: a Conveyor app on a fresh database of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conveyor import Conveyor


@pytest.fixture
async def app(store_url: str) -> AsyncIterator[Conveyor]:
    """A Conveyor app on the wall clock (workers need real time); closed after the test."""
    conveyor = Conveyor(store_url)
    await conveyor.store()
    yield conveyor
    await conveyor.close()
