"""Property-based: generated requests from the OpenAPI document never get a 5xx answer."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conveyor.api import create_api
from tests.api.test_http import build

_folder = tempfile.TemporaryDirectory()
_app = build(f"sqlite:///{Path(_folder.name) / 'schema.db'}")
asyncio.run(_app.migrate())
schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(_app))


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:500]}"
