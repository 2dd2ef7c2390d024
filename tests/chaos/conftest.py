"""Chaos fixtures: a figure sheet each scenario fills in, and a private PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.chaos.private_pg import PrivatePostgres

Report = Callable[..., None]


@pytest.fixture
def chaos_report(record_property: Callable[[str, Any], None]) -> Report:
    """``chaos_report(lost=0, ran_twice=3, ...)``: the figures the scenario counted, kept
    with the test's report and printed in the session's chaos summary."""

    def report(**figures: Any) -> None:
        record_property("chaos", figures)

    return report


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the module's own (initdb + pg_ctl, a free port), which its
    tests may stop and restart; never the shared one."""
    server = PrivatePostgres.create()
    try:
        yield server
    finally:
        server.destroy()
