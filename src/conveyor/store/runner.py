"""The hooks through which the stores' shared mixins run a named query of their dialect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Row = dict[str, Any]


class QueryRunner:
    """What a dialect supplies so that one mixin can serve both stores: how to run a named
    statement of its ``queries.sql``, how to pass it a time and a list of strings, and how
    to read a time from its rows.

    The methods are declared here and written in ``postgres/runner.py`` and
    ``sqlite/runner.py``; the SQL itself stays in each dialect's ``queries.sql``.
    """

    async def _read_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        """Run a statement that only reads; its rows."""
        raise NotImplementedError

    async def _write_rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        """Run a statement that writes, in a transaction of its own; the rows it returns."""
        raise NotImplementedError

    async def _execute(self, name: str, params: dict[str, Any]) -> None:
        """Run a statement that writes and returns no rows, in a transaction of its own."""
        raise NotImplementedError

    def _param_time(self, moment: datetime) -> Any:
        """A time as the dialect's statements take it."""
        raise NotImplementedError

    def _param_strings(self, values: list[str]) -> Any:
        """A list of strings as the dialect's statements take it."""
        raise NotImplementedError

    @staticmethod
    def _when(value: Any) -> datetime:
        """A time from a row, as an aware UTC datetime (the store's own decoder)."""
        raise NotImplementedError
