"""Migrating the car-wash schema: the Alembic revisions, run on the queue's database.

``migrate(url)`` is registered with ``app.add_migration`` so that ``conveyor migrate`` (and
every process that opens the app's store with auto-migrate) brings the domain tables up to
date together with the engine's. On PostgreSQL an advisory lock serialises concurrent runs.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from carwash.db import make_engine

VERSION_TABLE = "carwash_alembic_version"
# An arbitrary constant shared by every process migrating the domain on one database.
ADVISORY_LOCK_KEY = 7_420_001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "carwash:migrations")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    """Upgrade the domain schema on ``url`` (a Conveyor database URL) to the head revision."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
