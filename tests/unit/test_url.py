"""Choosing a store from a database URL, and keeping passwords out of messages."""

from __future__ import annotations

import pytest

from conveyor.errors import ConfigurationError
from conveyor.store.factory import sqlite_path, store_for_url
from conveyor.store.postgres.connector import redact_url


def test_sqlite_urls_name_relative_and_absolute_files() -> None:
    assert sqlite_path("sqlite:///data/jobs.db") == "data/jobs.db"
    assert sqlite_path("sqlite:////var/lib/jobs.db") == "/var/lib/jobs.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"


@pytest.mark.parametrize("url", ["sqlite:/nope", "sqlite://", "mysql://x", "jobs.db", ""])
def test_an_unusable_url_is_refused_naming_it(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        store_for_url(url)
    assert repr(url) in str(caught.value)


def test_postgres_urls_pick_the_postgres_store() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert store_for_url(url).dialect == "postgresql"


def test_password_is_masked() -> None:
    assert redact_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
