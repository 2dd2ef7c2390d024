"""The SQL loader, and the rules for named queries: none unused, and every one the shared
store code names defined by both dialects."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

import conveyor.store
from conveyor.store.sql import load_migrations, load_queries, parse_queries


def _string_literals(files: Iterable[Path]) -> set[str]:
    return {
        node.value
        for path in files
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


_STORE = Path(conveyor.store.__file__).parent
_SHARED_CODE = _string_literals(_STORE.glob("*.py"))


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_every_query_block_is_used_by_the_store_code(dialect: str) -> None:
    queries = load_queries(f"conveyor.store.{dialect}")
    used = _SHARED_CODE | _string_literals((_STORE / dialect).glob("*.py"))
    assert set(queries) - used == set()


def test_every_query_the_shared_store_code_names_exists_in_both_dialects() -> None:
    postgres = set(load_queries("conveyor.store.postgres"))
    sqlite = set(load_queries("conveyor.store.sqlite"))
    named_by_shared_code = _SHARED_CODE & (postgres | sqlite)
    assert named_by_shared_code - (postgres & sqlite) == set()
    assert {"insert_jobs", "claim_jobs", "complete_jobs", "fail_jobs", "extend_leases"} <= (
        postgres & sqlite
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
