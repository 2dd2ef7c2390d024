"""No error answer carries a connection string, whatever the exception's text held."""

from __future__ import annotations

import json

import pytest

from conveyor.api.errors import conveyor_error_response
from conveyor.errors import StoreError, StoreUnavailable


@pytest.mark.parametrize("kind", [StoreError, StoreUnavailable])
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:secret@127.0.0.1:5432/prod",
        "postgres://u@db/x",
        "sqlite:////var/lib/conveyor/conveyor.db",
    ],
)
def test_a_store_error_answer_has_no_connection_string(kind: type[StoreError], url: str) -> None:
    answer = conveyor_error_response(kind(f"PostgreSQL at {url}: invalid input syntax"))
    message = json.loads(answer.body)["error"]["message"]
    assert url not in message and "secret" not in message
    assert "invalid input syntax" in message
