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


# Generated cases reach ids of 2**63 and beyond on these routes in some runs and not in
# others, so their xfail cannot be strict; DEFECT_8 in test_hostile_http sends those ids
# every time, under a strict xfail.
UNBOUNDED_ID_ROUTES = (
    "GET /api/campaigns/{campaign_id}",
    "GET /api/customers/{customer_id}/credits",
    "GET /api/tenants/{tenant_id}/summaries",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "test_no_generated_request_gets_a_server_error" in item.nodeid and any(
            f"[{route}]" in item.nodeid for route in UNBOUNDED_ID_ROUTES
        ):
            item.add_marker(pytest.mark.xfail(strict=False, reason="needs fix for defect 8 of #21"))
