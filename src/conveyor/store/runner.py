"""The seam between the store code written once and the two dialects: a ``Connector``
runs a named statement of its dialect's ``queries.sql`` and encodes what the dialects
encode differently; ``QueryRunner`` is the base of the shared store methods, over one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from conveyor.job import Job
from conveyor.store.base import NewJob
from conveyor.store.insert import BatchInsertPlan
from conveyor.store.rows import job_from_row

Row = dict[str, Any]
Params = Mapping[str, Any]


class Connector(Protocol):
    """What really differs between SQLite and PostgreSQL below the store's methods: how a
    statement runs, and how a time, a list and a JSON value go in and a time comes out.
    The SQL itself stays in each dialect's ``queries.sql``, under the same names."""

    async def read(self, name: str, params: Params, *, plan_each_time: bool = False) -> list[Row]:
        """Run a statement that only reads; its rows. ``plan_each_time`` plans it for these
        values on every run (a filter whose best plan depends on which fields are set)."""
        ...

    async def write(self, name: str, params: Params) -> list[Row]:
        """Run a statement that writes, in a transaction of its own; the rows it returns."""
        ...

    async def write_jobs(self, name: str, params: Params) -> list[Row]:
        """Run a statement that inserts jobs and returns them (``task`` and ``queue``
        included), in a transaction of its own that also counts them in the enqueue tally:
        the statement does on PostgreSQL, one more statement on SQLite."""
        ...

    async def execute(self, name: str, params: Params) -> int:
        """Run a statement that writes, in a transaction of its own; the rows it changed."""
        ...

    async def execute_all(self, statements: Sequence[tuple[str, Params]]) -> list[int]:
        """Run several statements in one transaction; the rows each changed."""
        ...

    def time(self, moment: datetime) -> Any:
        """A time as the dialect's statements take it."""
        ...

    def array(self, values: Sequence[Any]) -> Any:
        """A list of strings or integers as the dialect's statements take it."""
        ...

    def json(self, value: Any) -> Any:
        """A JSON value (already checked storable) as the dialect's statements take it."""
        ...

    def when(self, value: Any) -> datetime:
        """A time from a row, as an aware UTC datetime."""
        ...

    def lease_time(self, now: datetime | None) -> datetime | None:
        """The time a lease statement runs at: ``now``, or for ``None`` the database's
        clock, read here where the database is this host (SQLite) and left ``None`` for
        the statement to read where it is not (PostgreSQL's ``now()``)."""
        ...

    def wake(self, queues: Iterable[str]) -> None:
        """After a commit that made jobs of ``queues`` runnable: wake their idle workers,
        unless the statements did (PostgreSQL's NOTIFY is part of the statement)."""
        ...

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> BatchInsertPlan:
        """The dialect's insert plan for ``jobs``."""
        ...


class QueryRunner:
    """The base of the store methods written once: each runs its dialect's statements
    through ``_db``, the connector the store holds."""

    _db: Connector

    def _job(self, row: Mapping[str, Any]) -> Job:
        return job_from_row(row, self._db.when)
