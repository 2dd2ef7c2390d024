"""The shared mixins' query hooks on PostgresStore: one pooled statement per call."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from psycopg import AsyncCursor
from psycopg.types.string import TextLoader

from conveyor.store.runner import QueryRunner, Row

Cursor = TypeVar("Cursor", bound=AsyncCursor[Any])


def json_as_text(cursor: Cursor) -> Cursor:
    """Have ``cursor`` return jsonb as JSON text, as SQLite does, so that rows.decode_json
    parses every value alike (psycopg's own decoding turns the JSON string "x" into the str
    "x", which decode_json cannot tell from JSON text). Per cursor: handler SQL on pooled
    connections keeps psycopg's default."""
    cursor.adapters.register_loader("jsonb", TextLoader)
    return cursor


class PostgresRunner(QueryRunner):
    """Every statement runs on its own pooled connection (autocommit); times and lists
    go to psycopg as they are."""

    async def _rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # PostgresStore's

    async def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        raise NotImplementedError  # PostgresStore's

    async def _read_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        return await self._rows(name, params)

    async def _write_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        return await self._rows(name, params)

    async def _execute(self, name: str, params: dict[str, Any]) -> None:
        await self._rowcount(name, params)

    def _param_time(self, moment: datetime) -> Any:
        return moment

    def _param_strings(self, values: list[str]) -> Any:
        return values
