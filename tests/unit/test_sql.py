"""The SQL loader, and the rule that both dialects define the same named queries."""

from __future__ import annotations

import pytest

from conveyor.store.sql import load_migrations, load_queries, parse_queries


def test_both_dialects_define_the_same_query_names() -> None:
    postgres = load_queries("conveyor.store.postgres")
    sqlite = load_queries("conveyor.store.sqlite")
    assert set(postgres) == set(sqlite)
    assert {"insert_jobs", "claim_jobs", "complete_jobs", "fail_jobs", "extend_leases"} <= set(
        postgres
    )


def test_both_dialects_have_the_same_numbered_migrations() -> None:
    postgres = load_migrations("conveyor.store.postgres")
    sqlite = load_migrations("conveyor.store.sqlite")
    assert [(m.version, m.name) for m in postgres] == [(m.version, m.name) for m in sqlite]


def test_parse_queries_strips_comment_lines_and_keeps_order_of_definition() -> None:
    text = "-- header\n-- name: first\n-- why\nSELECT 1;\n\n-- name: second\nSELECT 2;\n"
    assert parse_queries(text) == {"first": "SELECT 1;", "second": "SELECT 2;"}


def test_a_name_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_an_empty_query_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_queries("-- name: a\n-- only a comment\n")
