"""Migrating the car-wash schema: the Alembic revisions, run on the queue's database.

``migrate(url)`` is registered with ``app.add_migration`` so that ``conveyor migrate`` (and
every process that opens the app's store with auto-migrate) brings the domain tables up to
date together with the engine's. On PostgreSQL an advisory lock serialises concurrent runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from carwash.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "carwash_alembic_version"
HEAD = "0001"
"""The newest revision (a test checks it is Alembic's head): a database already there is
recognised without importing Alembic, which keeps every CLI call and worker start fast."""
# An arbitrary constant shared by every process migrating the domain on one database.
ADVISORY_LOCK_KEY = 7_420_001


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "carwash:migrations")
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

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
        if _at_head(engine):
            return
        from alembic import command

        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            return list(found) == [HEAD]
    except DBAPIError:
        return False  # no version table yet
