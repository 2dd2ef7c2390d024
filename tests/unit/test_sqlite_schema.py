"""The SQLite jobs table is cheap to write and its rebuild (migration 0011) keeps its ids.

SQLite evaluates a constant IN list of three or more values through a temporary b-tree,
which a CHECK constraint or a partial index predicate builds again for every row written.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from conveyor.store.sqlite.store import (
    MIGRATIONS,
    QUERIES,
    SqliteStore,
    encode_time,
    split_statements,
)
from tests.store.helpers import NOW, claim, complete, insert_many

# A constant list of three or more: ``x IN ('a', 'b', 'c')``, not a subquery.
CONSTANT_IN_LIST = re.compile(r"\bIN\s*\(\s*'[^()]*,[^()]*,[^()]*\)", re.IGNORECASE)


async def _migrated(folder: Path) -> Path:
    """A SQLite store's database file, migrated to the latest version."""
    store = SqliteStore(folder / "jobs.db")
    await store.open()
    try:
        await store.migrate()
    finally:
        await store.close()
    return folder / "jobs.db"


async def test_jobs_table_constraints_and_indexes_hold_no_constant_in_list(
    tmp_path: Path,
) -> None:
    with closing(sqlite3.connect(await _migrated(tmp_path))) as conn:
        schema = conn.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE tbl_name = 'conveyor_jobs' AND type IN ('table', 'index')"
        ).fetchall()

    assert len(schema) > 5
    assert [name for name, sql in schema if sql and CONSTANT_IN_LIST.search(sql)] == []


def _migrate_to(path: Path, version: int) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(QUERIES["begin_migration"])
        conn.execute(QUERIES["create_migrations_table"])
        for migration in MIGRATIONS[:version]:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                QUERIES["record_migration"], {"version": migration.version, "name": migration.name}
            )
        conn.execute("COMMIT")


async def test_rebuilding_the_jobs_table_keeps_its_data_and_never_reuses_an_id(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    _migrate_to(path, 10)
    # Written as the Conveyor of that schema wrote them: today's insert names columns
    # that later migrations added.
    moment = encode_time(NOW)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO conveyor_jobs (task, queue, state, payload, max_attempts, run_at,"
            " created_at) VALUES ('send_email', 'default', 'available', '{}', 3, ?, ?)",
            [(moment, moment)] * 5,
        )
    store = SqliteStore(path)
    await store.open()
    try:
        jobs = [await store.get_job(job_id=job_id) for job_id in range(1, 6)]
        [first] = await claim(store, limit=1)
        await store.ack_jobs(acks=[complete(first, {"ok": True})], now=first.created_at)
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("DELETE FROM conveyor_jobs WHERE id = ?", (jobs[-1].id,))  # pruned
        before = [await store.get_job(job_id=j.id) for j in jobs[:-1]]

        assert await store.migrate() == len(MIGRATIONS)

        assert [await store.get_job(job_id=j.id) for j in jobs[:-1]] == before
        [later] = await insert_many(store, 1)
        assert later.id > jobs[-1].id
    finally:
        await store.close()


# Values that let every statement prepare: a JSON list for the json_each inputs, NULL
# for the rest. SQLite plans without looking at the values.
_JSON_LIST_PARAMS = frozenset({"tasks", "states", "queues", "ids", "keys", "rows", "tokens"})


def _indexes_read(conn: sqlite3.Connection, statement: str) -> set[str]:
    """The indexes SQLite's plan for ``statement`` reads."""
    names = set(re.findall(r":(\w+)", statement))
    params = {n: "[1]" if n in _JSON_LIST_PARAMS else None for n in names}
    plan = conn.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
    return {m[1] for row in plan if (m := re.search(r"INDEX (\w+)", row[-1]))}


async def test_statements_on_live_states_read_the_state_index(tmp_path: Path) -> None:
    """The state index leaves completed jobs out (migration 0013); SQLite reads a partial
    index only where the statement repeats its predicate, so each of these does."""
    with closing(sqlite3.connect(await _migrated(tmp_path))) as conn:
        for name in (
            "list_queues",
            "oldest_waiting",
            "queue_depths",
            "rescue_expired",
            "retry_failed",
        ):
            (statement,) = split_statements(QUERIES[name])
            assert "conveyor_jobs_state_idx" in _indexes_read(conn, statement), name


async def test_every_index_of_the_jobs_table_is_read_by_some_statement(tmp_path: Path) -> None:
    """Each index is written under SQLite's one write lock on every insert (and, if it
    holds a changed column, every update): one that no statement's plan reads is cost
    without use. Asks SQLite's planner for the plan of every statement of the store."""
    read: set[str] = set()
    with closing(sqlite3.connect(await _migrated(tmp_path))) as conn:
        for sql in QUERIES.values():
            for statement in split_statements(sql):
                read.update(_indexes_read(conn, statement))
        indexes = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'conveyor_jobs' AND sql IS NOT NULL"
            )
        }

    assert len(indexes) > 5
    assert indexes - read == set()
