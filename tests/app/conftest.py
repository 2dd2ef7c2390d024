"""Fixtures for the app API tests: a Conveyor app per test, on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from conveyor import Conveyor
from conveyor.clock import FrozenClock

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(store_url: str, clock: FrozenClock) -> AsyncIterator[Conveyor]:
    """A Conveyor app on a fresh database of each backend; its store opens on first use."""
    conveyor = Conveyor(store_url, clock=clock)
    yield conveyor
    await conveyor.close()
