"""The shared mixins' query hooks on SqliteStore: reads on the store's thread, writes in
one IMMEDIATE transaction each."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from conveyor.store.runner import QueryRunner, Row

T = TypeVar("T")


class SqliteRunner(QueryRunner):
    """Times go in as the store's fixed-width UTC text, lists as JSON arrays (SQLite has
    no array type; the statements read them with ``json_each``)."""

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _time(moment: datetime) -> str:
        raise NotImplementedError  # SqliteStore's

    def _wake_queues(self, queues: Iterable[str]) -> None:
        raise NotImplementedError  # SqliteStore's: wakes other processes' idle workers

    async def _read_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        return await self._read(lambda conn: self._rows(conn, name, params))

    async def _write_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        return await self._write(lambda conn: self._rows(conn, name, params))

    async def _execute(self, name: str, params: dict[str, Any]) -> None:
        await self._write_rows(name, params)

    def _param_time(self, moment: datetime) -> Any:
        return self._time(moment)

    def _param_strings(self, values: list[str]) -> Any:
        return json.dumps(values)
