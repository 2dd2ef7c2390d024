"""Throwaway PostgreSQL databases on the benchmark server, one per system and run."""

from __future__ import annotations

import os
import uuid

import psycopg
from psycopg import sql

# The same server the tests use; each system gets its own database on it.
ADMIN_URL = os.environ.get(
    "CONVEYOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_database(prefix: str) -> tuple[str, str]:
    """Create an empty database; returns its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, database_url(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_version() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"
