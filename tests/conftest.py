"""Fixtures shared by every test: stores on real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor.store.base import Store
from conveyor.store.factory import open_store
from tests import pg
from tests.chaos.report import write_summary as chaos_summary

BACKENDS = ["sqlite", "postgres"]
_pg_skip_reason: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _pg_skip_reason
    _pg_skip_reason = pg.reachable()
    if _pg_skip_reason is not None and os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"CI=true but PostgreSQL at {pg.admin_url()} is unreachable: {_pg_skip_reason}"
        )


def pytest_report_header(config: pytest.Config) -> str:
    if _pg_skip_reason is None:
        return f"postgresql: {pg.admin_url()}"
    return f"postgresql: UNREACHABLE ({_pg_skip_reason}) - the PostgreSQL half is SKIPPED"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    chaos_summary(terminalreporter)
    if _pg_skip_reason is not None:
        terminalreporter.write_line(
            f"!!! PostgreSQL at {pg.admin_url()} was unreachable: every postgres-backed "
            f"test was SKIPPED ({_pg_skip_reason})",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that each test's database is cloned from."""
    if _pg_skip_reason is not None:
        pytest.skip(f"PostgreSQL unreachable: {_pg_skip_reason}")
    name = pg.unique_name("conveyor_tpl")
    url = pg.create_database(name)

    async def migrate() -> None:
        store = await open_store(url, migrate=True)
        await store.close()

    asyncio.run(migrate())
    yield name
    pg.drop_database(name)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = pg.unique_name("conveyor_t")
    url = pg.create_database(name, template=pg_template)
    yield url
    pg.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'conveyor.db'}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database URL on each backend."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    url = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open, migrated store: the only fixture the conformance suite uses."""
    opened = await open_store(store_url, migrate=True)
    yield opened
    await opened.close()
